import {
  createRialtoExchange,
  type RialtoExchange,
  type RialtoExchangeOptions,
  type Store,
  storeKit,
} from '@rialto-exchange/core';
import { memoryStore } from '@rialto-exchange/storage-adapters';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CONTENT_SECURITY_POLICY,
  type ConsoleResponse,
  createRialtoConsole,
  type RialtoConsoleOptions,
} from '../src/index.js';
import { ensureHttpReference } from './http-reference-assets.js';

const ADMIN_TOKEN = 'console-admin-token-0123456789abcdef';
const PUBLIC_URL = 'http://127.0.0.1:3000/rialto-admin';
const ORIGIN = 'http://127.0.0.1:3000';

let exchanges: RialtoExchange[] = [];
afterEach(async () => {
  await Promise.all(exchanges.map((exchange) => exchange.close()));
  exchanges = [];
});

function createExchange(options: Partial<RialtoExchangeOptions> = {}): RialtoExchange {
  const exchange = createRialtoExchange({
    issuer: 'http://127.0.0.1:3000',
    store: memoryStore(),
    adminToken: ADMIN_TOKEN,
    allowInsecureIssuers: true,
    allowPrivateIssuers: true,
    allowedAudiences: [],
    logger: false,
    webhooks: { worker: false },
    ...options,
  });
  exchanges.push(exchange);
  return exchange;
}

/** A browser's cookie jar and requests, reduced to what the console reads. */
function browser(consoleOptions: Partial<RialtoConsoleOptions> & { exchange: RialtoExchange }) {
  const console = createRialtoConsole({ publicUrl: PUBLIC_URL, ...consoleOptions });
  const jar = new Map<string, string>();
  function keep(response: ConsoleResponse) {
    const setCookie = response.headers['set-cookie'];
    for (const cookie of Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []) {
      const [pair = ''] = cookie.split(';');
      const [name = '', value = ''] = pair.split('=');
      if (/Max-Age=0/.test(cookie)) jar.delete(name);
      else jar.set(name, value);
    }
    return response;
  }
  const cookie = () => [...jar].map(([name, value]) => `${name}=${value}`).join('; ');
  return {
    console,
    jar,
    async get(path: string, headers: Record<string, string> = {}, query: Record<string, string> = {}) {
      return keep(
        await console.handle({
          method: 'GET',
          path,
          query: new URLSearchParams(query),
          headers: { cookie: cookie(), ...headers },
          raw: headers,
        }),
      );
    },
    async post(
      path: string,
      form: Record<string, string>,
      headers: Record<string, string> = { origin: ORIGIN },
    ) {
      return keep(
        await console.handle({
          method: 'POST',
          path,
          query: new URLSearchParams(),
          headers: { cookie: cookie(), ...headers },
          form: new URLSearchParams(form),
          ip: '203.0.113.7',
          raw: headers,
        }),
      );
    },
    async signIn(token = ADMIN_TOKEN) {
      const page = String((await this.get('/sign-in')).body);
      const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1] ?? '';
      return this.post('/sign-in', { csrf, admin_token: token });
    },
    /** The CSRF token of the signed-in session, as its pages carry it. */
    async csrf() {
      const page = String((await this.get('/organizations')).body);
      return /name="csrf" value="([^"]+)"/.exec(page)?.[1] ?? '';
    },
  };
}

function text(response: ConsoleResponse): string {
  return String(response.body);
}

describe('console sign-in and sessions', () => {
  it('signs in with the admin token: an HttpOnly, SameSite=Strict cookie on the console path, not Secure over http', async () => {
    const b = browser({ exchange: createExchange() });
    const response = await b.signIn();
    expect(response.status).toBe(303);
    expect(response.headers.location).toBe('/rialto-admin/organizations');
    const session = (response.headers['set-cookie'] as string[]).find((cookie) =>
      cookie.startsWith('rialto_console_session='),
    );
    expect(session).toMatch(/; Path=\/rialto-admin; HttpOnly; SameSite=Strict; Max-Age=28800$/);
    expect(session).not.toContain(ADMIN_TOKEN);
    expect((await b.get('/organizations')).status).toBe(200);
  });

  it('marks the cookie Secure when the configured public URL is https, whatever the request headers say', async () => {
    const secure = browser({ exchange: createExchange(), publicUrl: 'https://admin.example.com/ops' });
    const page = text(await secure.get('/sign-in'));
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1] ?? '';
    const response = await secure.post(
      '/sign-in',
      { csrf, admin_token: ADMIN_TOKEN },
      { origin: 'https://admin.example.com' },
    );
    expect(response.headers['set-cookie']?.[0]).toMatch(
      /^rialto_console_session=[^;]+; Path=\/ops; HttpOnly; SameSite=Strict; Max-Age=28800; Secure$/,
    );

    const plain = browser({ exchange: createExchange() });
    const forwarded = text(await plain.get('/sign-in', { 'x-forwarded-proto': 'https' }));
    const token = /name="csrf" value="([^"]+)"/.exec(forwarded)?.[1] ?? '';
    const answer = await plain.post(
      '/sign-in',
      { csrf: token, admin_token: ADMIN_TOKEN },
      { origin: ORIGIN, 'x-forwarded-proto': 'https' },
    );
    expect(String(answer.headers['set-cookie'])).not.toContain('Secure');
  });

  it('refuses a wrong admin token with 401 and the reason, and opens no session', async () => {
    const b = browser({ exchange: createExchange() });
    const response = await b.signIn('wrong');
    expect(response.status).toBe(401);
    expect(text(response)).toContain(
      '<div class="error" role="alert"><p>That is not the admin token.</p></div>',
    );
    expect(b.jar.has('rialto_console_session')).toBe(false);
  });

  it('counts refused sign-ins against the per-address limit: 429 once it is spent', async () => {
    const b = browser({
      exchange: createExchange({ rateLimit: { perIp: { limit: 2, windowSeconds: 60 } } }),
    });
    expect((await b.signIn('wrong')).status).toBe(401);
    expect((await b.signIn('wrong')).status).toBe(401);
    const limited = await b.signIn(ADMIN_TOKEN);
    expect(limited.status).toBe(429);
    expect(text(limited)).toMatch(/Too many requests from this client address\. Retry in \d+ s\./);
    expect(b.jar.has('rialto_console_session')).toBe(false);
  });

  it('refuses a sign-in form posted without its sign-in cookie (login CSRF) with 403', async () => {
    const b = browser({ exchange: createExchange() });
    const response = await b.post('/sign-in', { csrf: 'forged', admin_token: ADMIN_TOKEN });
    expect(response.status).toBe(403);
    expect(text(response)).toContain('The sign-in form expired. Please try again.');
  });

  it('sends a browser without a session, or with a forged cookie, to the sign-in page', async () => {
    const b = browser({ exchange: createExchange() });
    expect((await b.get('/organizations')).headers.location).toBe('/rialto-admin/sign-in');
    await b.signIn();
    const [id = ''] = (b.jar.get('rialto_console_session') ?? '').split('.');
    b.jar.set('rialto_console_session', `${id}.forged-signature`);
    const response = await b.get('/organizations');
    expect(response.status).toBe(303);
    expect(response.headers.location).toBe('/rialto-admin/sign-in');
  });

  it('ends the session on every instance sharing the store at sign-out', async () => {
    const store: Store = memoryStore();
    const [first, second] = [createExchange({ store }), createExchange({ store })];
    const a = browser({ exchange: first });
    await a.signIn();
    const b = browser({ exchange: second });
    b.jar.set('rialto_console_session', a.jar.get('rialto_console_session') ?? '');
    expect((await b.get('/organizations')).status).toBe(200);
    const signedOut = await a.post('/sign-out', { csrf: await a.csrf() });
    expect(signedOut.status).toBe(200);
    expect(text(signedOut)).toContain('Signed out.');
    expect(String(signedOut.headers['set-cookie'])).toContain(
      'rialto_console_session=; Path=/rialto-admin; HttpOnly; SameSite=Strict; Max-Age=0',
    );
    expect((await b.get('/organizations')).headers.location).toBe('/rialto-admin/sign-in');
  });

  it('ends sessions opened with an admin token once the token is rotated', async () => {
    const store: Store = memoryStore();
    const a = browser({
      exchange: createExchange({ store }),
      sessionSecret: 'shared-cookie-secret-0123456789',
    });
    await a.signIn();
    const rotated = browser({
      exchange: createExchange({ store, adminToken: 'the-next-admin-token-0123456789' }),
      sessionSecret: 'shared-cookie-secret-0123456789',
    });
    rotated.jar.set('rialto_console_session', a.jar.get('rialto_console_session') ?? '');
    expect((await rotated.get('/organizations')).headers.location).toBe('/rialto-admin/sign-in');
  });

  it("admits operators through the host's authorize hook, and only while it admits them", async () => {
    let admitted = true;
    const b = browser({ exchange: createExchange({ adminToken: undefined }), authorize: () => admitted });
    const opened = await b.get('/organizations');
    expect(opened.status).toBe(303);
    expect(opened.headers.location).toBe('/rialto-admin/organizations');
    expect((await b.get('/organizations')).status).toBe(200);
    admitted = false;
    expect((await b.get('/organizations')).headers.location).toBe('/rialto-admin/sign-in');
    expect(text(await b.get('/sign-in'))).toContain('This console signs in through the host application.');
  });

  it('refuses to start when nobody could sign in', () => {
    expect(() =>
      createRialtoConsole({ exchange: createExchange({ adminToken: undefined }), publicUrl: PUBLIC_URL }),
    ).toThrow('rialtoConsole(): nobody could sign in');
  });
});

describe('console writes', () => {
  it('refuses a POST without the CSRF token of the session with 403, changing nothing', async () => {
    const exchange = createExchange();
    const b = browser({ exchange });
    await b.signIn();
    const response = await b.post('/organizations', { name: 'Acme', issuer: 'http://127.0.0.1:9/idp' });
    expect(response.status).toBe(403);
    expect(text(response)).toBe(
      'The form is out of date (CSRF check failed). Reload the page and try again.',
    );
    expect(await exchange.options.store.listOrganizations({ query: null, after: null, limit: 10 })).toEqual(
      [],
    );
  });

  it('refuses a POST from another origin with 403, even with a valid token', async () => {
    const b = browser({ exchange: createExchange() });
    await b.signIn();
    const csrf = await b.csrf();
    const response = await b.post(
      '/organizations',
      { csrf, name: 'Acme', issuer: 'http://127.0.0.1:9/idp' },
      { origin: 'https://evil.example' },
    );
    expect(response.status).toBe(403);
    expect(text(response)).toBe('Cross-origin request refused.');
  });

  it('shows what the facade refuses inline with its status, and escapes what anyone typed', async () => {
    const exchange = createExchange();
    const b = browser({ exchange });
    await b.signIn();
    const csrf = await b.csrf();
    const refused = await b.post('/organizations', {
      csrf,
      name: '<img src=x onerror=alert(1)>',
      issuer: 'not a url',
    });
    expect(refused.status).toBe(400);
    expect(text(refused)).toContain(
      '<strong>invalid_request</strong>: The issuer must be an absolute http or https URL.',
    );
    expect(text(refused)).toContain('value="&lt;img src=x onerror=alert(1)&gt;"');
    expect(text(refused)).not.toContain('<img src=x');

    const created = await b.post('/organizations', {
      csrf,
      name: '<b>Acme</b>',
      issuer: 'http://127.0.0.1:9/idp',
    });
    expect(created.status).toBe(201);
    expect(text(created)).toContain('&lt;b&gt;Acme&lt;/b&gt; registered');
    expect(text(created)).toMatch(/<input id="once-value" readonly value="rialto_ak_[^"]+"/);
  });

  it("shows a user's identities and sessions, ends one and then all, each behind a confirm and the CSRF token", async () => {
    const store = memoryStore();
    const exchange = createExchange({ store });
    const { organization } = await exchange.organizations.register({
      name: 'Acme',
      issuer: 'http://127.0.0.1:9/idp',
    });
    const orgId = organization.orgId;
    const user = await exchange.users.create(orgId, { email: 'ada@example.com' });
    // Its first sign-in links the identity to the user by email.
    const linked = await store.findOrCreateUser({
      orgId,
      iss: 'http://127.0.0.1:9/idp',
      sub: 'ada-at-idp',
      email: 'ada@example.com',
      mayLinkByEmail: true,
      now: 1_700_000_000,
      newUser: user,
    });
    expect(linked.outcome).toBe('linked');
    const { userId } = user;
    const now = Math.floor(Date.now() / 1000);
    const families = [crypto.randomUUID(), crypto.randomUUID()];
    for (const familyId of families) {
      await store.saveRefreshToken({
        jti: crypto.randomUUID(),
        familyId,
        orgId,
        userId,
        issuedAt: now,
        expiresAt: now + 3600,
        kid: 'k',
      });
    }
    const b = browser({ exchange });
    await b.signIn();
    const path = `/organizations/${orgId}/users/${userId}`;
    const screen = text(await b.get(path));
    expect(screen).toContain(
      '<td>http://127.0.0.1:9/idp</td><td><code>sub</code></td><td><code>ada-at-idp</code></td>',
    );
    for (const familyId of families) {
      expect(screen).toContain(
        `action="/rialto-admin${path}/sessions/${familyId}/end" data-confirm="End this session?`,
      );
    }
    expect(screen).toContain(
      `action="/rialto-admin${path}/sessions/end-all" data-confirm="End all sessions of ada@example.com?`,
    );

    const forged = await b.post(`${path}/sessions/${families[0]}/end`, { csrf: 'forged' });
    expect(forged.status).toBe(403);
    expect(await exchange.users.listSessions(orgId, userId)).toHaveLength(2);

    const csrf = await b.csrf();
    const ended = await b.post(`${path}/sessions/${families[0]}/end`, { csrf });
    expect(ended.headers.location).toBe(`/rialto-admin${path}?done=session-ended`);
    expect((await exchange.users.listSessions(orgId, userId)).map((session) => session.familyId)).toEqual([
      families[1],
    ]);
    const again = await b.post(`${path}/sessions/${families[0]}/end`, { csrf });
    expect(again.status).toBe(404);
    expect(text(again)).toContain('No such session of this user.');

    const endedAll = await b.post(`${path}/sessions/end-all`, { csrf });
    expect(endedAll.headers.location).toBe(`/rialto-admin${path}?done=sessions-ended`);
    expect(await exchange.users.listSessions(orgId, userId)).toEqual([]);
    expect(text(await b.get(path))).toContain('No session: no refresh token of this user can be used.');
  });

  it('deletes an organization only when its name is typed, saying so otherwise', async () => {
    const exchange = createExchange();
    const { organization } = await exchange.organizations.register({
      name: 'Acme',
      issuer: 'http://127.0.0.1:9/idp',
    });
    const b = browser({ exchange });
    await b.signIn();
    const csrf = await b.csrf();
    const refused = await b.post(`/organizations/${organization.orgId}/delete`, { csrf, confirm: 'acme' });
    expect(refused.status).toBe(400);
    expect(text(refused)).toContain(
      'confirm: type the organization&#39;s name, &quot;Acme&quot;, exactly to delete it.',
    );
    expect(await exchange.organizations.get(organization.orgId)).not.toBeNull();
    const deleted = await b.post(`/organizations/${organization.orgId}/delete`, { csrf, confirm: 'Acme' });
    expect(deleted.headers.location).toBe('/rialto-admin/organizations?done=deleted');
    expect(await exchange.organizations.get(organization.orgId)).toBeNull();
  });

  it('answers 404 with the reason for an organization that does not exist', async () => {
    const b = browser({ exchange: createExchange() });
    await b.signIn();
    const response = await b.get('/organizations/00000000-0000-4000-8000-000000000000');
    expect(response.status).toBe(404);
    expect(text(response)).toContain('<div class="error" role="alert"><p>No such organization.</p></div>');
  });
});

describe('console listings', () => {
  it('pages through organizations 50 at a time, newest first, and searches by name', async () => {
    const exchange = createExchange();
    for (let index = 0; index < 55; index += 1) {
      await exchange.organizations.register({
        name: `Org ${index}`,
        issuer: `http://127.0.0.1:9/idp/${index}`,
      });
    }
    const b = browser({ exchange });
    await b.signIn();
    const first = text(await b.get('/organizations'));
    expect(first.match(/<tr>\s*<td><a href="\/rialto-admin\/organizations\/[0-9a-f-]{36}">/g)).toHaveLength(
      50,
    );
    const next =
      /<a href="\/rialto-admin\/organizations\?([^"]+)" rel="next">Next page<\/a>/.exec(first)?.[1] ?? '';
    expect(next).toMatch(/^query=&amp;cursor=/);
    const query = new URLSearchParams(next.replaceAll('&amp;', '&'));
    const second = await b.console.handle({
      method: 'GET',
      path: '/organizations',
      query,
      headers: { cookie: [...b.jar].map(([name, value]) => `${name}=${value}`).join('; ') },
      raw: {},
    });
    const rows = text(second).match(/>Org \d+<\/a>/g) ?? [];
    expect(rows).toHaveLength(5);
    expect(text(second)).not.toContain('rel="next"');
    const searched = await b.console.handle({
      method: 'GET',
      path: '/organizations',
      query: new URLSearchParams({ query: 'org 54' }),
      headers: { cookie: [...b.jar].map(([name, value]) => `${name}=${value}`).join('; ') },
      raw: {},
    });
    expect(text(searched).match(/>Org \d+<\/a>/g)).toEqual(['>Org 54</a>']);
  });

  it('shows a cursor it did not issue as an inline error with 400', async () => {
    const b = browser({ exchange: createExchange() });
    await b.signIn();
    const response = await b.console.handle({
      method: 'GET',
      path: '/organizations',
      query: new URLSearchParams({ cursor: 'forged' }),
      headers: { cookie: [...b.jar].map(([name, value]) => `${name}=${value}`).join('; ') },
      raw: {},
    });
    expect(response.status).toBe(400);
    expect(text(response)).toMatch(
      /<div class="error" role="alert"><p><strong>invalid_request<\/strong>: cursor/,
    );
  });
});

describe('console pages', () => {
  it('carry the strict CSP and no inline script or style, and serve their assets from the package', async () => {
    const b = browser({ exchange: createExchange() });
    await b.signIn();
    for (const path of ['/sign-in', '/organizations', '/keys', '/debugger', '/health']) {
      const response =
        path === '/sign-in' ? await browser({ exchange: createExchange() }).get(path) : await b.get(path);
      expect(response.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
      expect(response.headers['cache-control']).toBe('no-store');
      expect(text(response)).not.toMatch(/<script(?![^>]*\bsrc=)/);
      expect(text(response)).not.toMatch(/\sstyle=|\son[a-z]+=/);
    }
    const script = await b.get('/assets/console.js');
    expect(script.status).toBe(200);
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(text(script)).toContain('data-confirm');
    expect((await b.get('/assets/console.css')).headers['content-type']).toBe('text/css; charset=utf-8');
  });
});

describe('console issuer policy and organization settings', () => {
  async function signedInWithOrg() {
    const exchange = createExchange();
    const { organization } = await exchange.organizations.register({
      name: 'Acme',
      issuer: 'http://127.0.0.1:9/idp',
    });
    const b = browser({ exchange });
    await b.signIn();
    return { exchange, b, orgId: organization.orgId, csrf: await b.csrf() };
  }

  it('adds an issuer with a policy and an unsafe subject claim, and refuses either without the facade writing', async () => {
    const { exchange, b, orgId, csrf } = await signedInWithOrg();
    const issuer = 'http://127.0.0.1:9/second';
    const unsafe = await b.post(`/organizations/${orgId}/issuers`, {
      csrf,
      issuer,
      subject_claim: 'employee_id',
    });
    expect(unsafe.status).toBe(400);
    expect(text(unsafe)).toContain('<strong>invalid_request</strong>: subject_claim');
    expect(text(unsafe)).toContain('value="employee_id"');
    const badJson = await b.post(`/organizations/${orgId}/issuers`, {
      csrf,
      issuer,
      claim_mappings: '{"a":',
    });
    expect(badJson.status).toBe(400);
    expect(text(badJson)).toContain('<strong>invalid_request</strong>: claim_mappings: not JSON');
    const badCel = await b.post(`/organizations/${orgId}/issuers`, {
      csrf,
      issuer,
      condition: 'claims.hd ==',
    });
    expect(badCel.status).toBe(400);
    expect(text(badCel)).toMatch(/<strong>invalid_request<\/strong>: condition: [^<]*\(line 1, column \d+\)/);
    expect(await exchange.issuers.list(orgId)).toHaveLength(1);

    const added = await b.post(`/organizations/${orgId}/issuers`, {
      csrf,
      issuer,
      subject_claim: 'employee_id',
      unsafe_subject_claim: 'true',
      condition: 'claims.hd == "partner.example"',
      claim_mappings: '{"department": "claims.department"}',
      link_scope: 'org',
    });
    expect(added.status).toBe(201);
    const stored = (await exchange.issuers.list(orgId)).find((candidate) => candidate.issuer === issuer);
    expect(stored?.subjectClaim).toBe('employee_id');
    expect(stored?.policy).toEqual({
      condition: 'claims.hd == "partner.example"',
      claimMappings: { department: 'claims.department' },
      linkScope: 'org',
      version: 1,
    });
    expect(text(added)).toContain('condition, 1 mapping');
  });

  it('edits an issuer policy through updatePolicy, shows a CEL error inline with its position, and clears fields', async () => {
    const { exchange, b, orgId, csrf } = await signedInWithOrg();
    const [registration] = await exchange.issuers.list(orgId);
    const path = `/organizations/${orgId}/issuers/${registration?.registrationId}`;
    const screen = await b.get(path);
    expect(screen.status).toBe(200);
    expect(text(screen)).toContain('<dt>Policy version</dt><dd>1</dd>');

    const refused = await b.post(`${path}/policy`, { csrf, condition: 'claims.hd == ', claim_mappings: '' });
    expect(refused.status).toBe(400);
    expect(text(refused)).toMatch(
      /<strong>invalid_request<\/strong>: condition: [^<]*\(line 1, column \d+\)/,
    );
    expect(text(refused)).toContain('>claims.hd == </textarea>');
    expect(storeKit.policyOf((await exchange.issuers.list(orgId))[0] as never).version).toBe(1);

    const saved = await b.post(`${path}/policy`, {
      csrf,
      condition: '"staff" in claims.groups',
      claim_mappings: '{"team": "claims.team"}',
    });
    expect(saved.status).toBe(303);
    expect(saved.headers.location).toBe(`/rialto-admin${path}?done=policy`);
    expect((await exchange.issuers.list(orgId))[0]?.policy).toEqual({
      condition: '"staff" in claims.groups',
      claimMappings: { team: 'claims.team' },
      linkScope: 'issuer',
      version: 2,
    });
    await b.post(`${path}/policy`, { csrf, condition: ' ', claim_mappings: '' });
    expect((await exchange.issuers.list(orgId))[0]?.policy).toEqual({
      condition: null,
      claimMappings: {},
      linkScope: 'issuer',
      version: 3,
    });

    const widened = await b.post(`${path}/policy`, {
      csrf,
      condition: '',
      claim_mappings: '',
      link_scope: 'org',
    });
    expect(widened.status).toBe(303);
    expect((await exchange.issuers.list(orgId))[0]?.policy).toMatchObject({ linkScope: 'org', version: 4 });
    expect(text(await b.get(path))).toContain('<dt>Link scope</dt><dd>org</dd>');
    const unknownScope = await b.post(`${path}/policy`, {
      csrf,
      condition: '',
      claim_mappings: '',
      link_scope: 'everyone',
    });
    expect(unknownScope.status).toBe(400);
    expect(text(unknownScope)).toMatch(/<strong>invalid_request<\/strong>: link_scope/);
    expect((await exchange.issuers.list(orgId))[0]?.policy).toMatchObject({ linkScope: 'org', version: 4 });

    const missing = await b.get(`/organizations/${orgId}/issuers/00000000-0000-4000-8000-000000000000`);
    expect(missing.status).toBe(404);
    expect(text(missing)).toContain('No such issuer registration in this organization.');
  });

  it('removes an issuer keeping its sessions, or ending them when asked', async () => {
    const { exchange, b, orgId, csrf } = await signedInWithOrg();
    await exchange.issuers.add(orgId, { issuer: 'http://127.0.0.1:9/staff' });
    const [kept, ended] = await exchange.issuers.list(orgId);
    const screen = text(await b.get(`/organizations/${orgId}`));
    expect(screen).toContain(`<label for="end-sessions-${ended?.registrationId}">End its sessions</label>`);

    const keeping = await b.post(`/organizations/${orgId}/issuers/${kept?.registrationId}/remove`, { csrf });
    expect(keeping.headers.location).toBe(`/rialto-admin/organizations/${orgId}?done=issuer-removed`);
    expect((await exchange.organizations.get(orgId))?.endedRegistrations ?? []).toEqual([]);

    const ending = await b.post(`/organizations/${orgId}/issuers/${ended?.registrationId}/remove`, {
      csrf,
      end_sessions: 'true',
    });
    expect(ending.headers.location).toBe(`/rialto-admin/organizations/${orgId}?done=issuer-removed`);
    expect((await exchange.issuers.list(orgId)).length).toBe(0);
    expect(
      (await exchange.organizations.get(orgId))?.endedRegistrations?.map((entry) => entry.registrationId),
    ).toEqual([ended?.registrationId]);
  });

  it('sets dpop_bound_access_tokens at registration and changes it on the organization screen', async () => {
    const { exchange, b, orgId, csrf } = await signedInWithOrg();
    const created = await b.post('/organizations', {
      csrf,
      name: 'Bound',
      issuer: 'http://127.0.0.1:9/bound',
      dpop_bound_access_tokens: 'true',
    });
    expect(created.status).toBe(201);
    const { items } = await exchange.organizations.list({ query: 'Bound' });
    expect(items[0]?.dpopBoundAccessTokens).toBe(true);

    expect(text(await b.get(`/organizations/${orgId}`))).not.toMatch(
      /name="dpop_bound_access_tokens" value="true" checked/,
    );
    const changed = await b.post(`/organizations/${orgId}/dpop`, { csrf, dpop_bound_access_tokens: 'true' });
    expect(changed.headers.location).toBe(`/rialto-admin/organizations/${orgId}?done=dpop`);
    expect((await exchange.organizations.get(orgId))?.dpopBoundAccessTokens).toBe(true);
    expect(text(await b.get(`/organizations/${orgId}`))).toMatch(
      /name="dpop_bound_access_tokens" value="true" checked/,
    );
    await b.post(`/organizations/${orgId}/dpop`, { csrf });
    expect((await exchange.organizations.get(orgId))?.dpopBoundAccessTokens).toBe(false);
  });
});

describe('console token debugger', () => {
  it('picks the organization by a server-side name search among many, keeping the chosen one', async () => {
    const exchange = createExchange();
    let target = '';
    for (let index = 0; index < 60; index += 1) {
      const { organization } = await exchange.organizations.register({
        name: `Partner ${index}`,
        issuer: `http://127.0.0.1:9/idp/${index}`,
      });
      if (index === 42) target = organization.orgId;
    }
    const b = browser({ exchange });
    await b.signIn();
    const empty = text(await b.get('/debugger'));
    expect(empty).toContain('Find the organization above first.');
    expect(empty).toMatch(/<button type="submit" disabled>Explain<\/button>/);

    const all = text(await b.get('/debugger', {}, { org_query: 'partner' }));
    expect(all.match(/type="radio"/g)).toHaveLength(20);
    const found = text(await b.get('/debugger', {}, { org_query: 'partner 42' }));
    expect(found.match(/type="radio"/g)).toHaveLength(1);
    expect(found).toContain(`value="${target}" required checked>`);
    expect(text(await b.get('/debugger', {}, { org_query: 'nobody' }))).toContain('No organization matches.');

    // Arriving from an organization's screen, its org is already chosen, and searching keeps it.
    const kept = text(await b.get('/debugger', {}, { org_id: target, org_query: 'partner 1' }));
    expect(kept).toContain(`value="${target}" required checked>`);
    expect(kept.match(/type="radio"/g)).toHaveLength(12);

    const explained = await b.post('/debugger', { csrf: await b.csrf(), org_id: target, token: 'not.a.jwt' });
    expect(text(explained)).toContain('The exchange would fail');
    expect(text(explained)).toContain(`value="${target}" required checked>`);
  });
});

describe('the HTTP reference the console serves', () => {
  beforeAll(ensureHttpReference);

  it('serves the Redoc page and its files from the package under their own CSP, to signed-in operators', async () => {
    const outsider = browser({ exchange: createExchange() });
    const refused = await outsider.get('/reference/');
    expect(refused.status).toBe(303);
    expect(refused.headers.location).toBe('/rialto-admin/sign-in');

    const b = browser({ exchange: createExchange() });
    await b.signIn();
    expect((await b.get('/reference')).headers.location).toBe('/rialto-admin/reference/');
    const reference = await b.get('/reference/');
    expect(reference.status).toBe(200);
    expect(reference.headers['content-type']).toBe('text/html; charset=utf-8');
    const meta = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(text(reference))?.[1];
    expect(meta).toContain("script-src 'self'");
    expect(reference.headers['content-security-policy']).toBe(`${meta}; frame-ancestors 'none'`);
    expect(text(reference)).toContain('<script src="vendor/redoc.standalone.js"></script>');
    expect(text(reference)).not.toMatch(/<script(?![^>]*\bsrc=)|https?:\/\/cdn/);

    const bundle = await b.get('/reference/vendor/redoc.standalone.js');
    expect(bundle.status).toBe(200);
    expect(bundle.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(bundle.body.length).toBeGreaterThan(500_000);
    const spec = await b.get('/reference/openapi.json');
    expect(JSON.parse(text(spec)).paths['/identity/organizations']).toBeDefined();
    const missing = await b.get('/reference/vendor/other.js');
    expect(missing.status).toBe(404);
    expect(text(missing)).toContain('No such page.');
    expect(text(await b.get('/organizations'))).toContain(
      '<a href="/rialto-admin/reference/">HTTP reference</a>',
    );
  });
});
