import { createHash, generateKeyPair, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import type {
  Account,
  AdapterFactory,
  AdapterPayload,
  Configuration,
  InteractionResults,
  JWK,
  default as Provider,
} from 'oidc-provider';
import { MINT_PATH } from './mint-path.js';

/** A user the dev IdP should issue an ID token for. */
export interface DevIdpUser {
  /** Value of the `email` claim. */
  email: string;
  /**
   * Value of the `sub` claim. Defaults to a value derived from `email` so that the same email maps to the
   * same subject across calls and across IdP restarts, which is what account-linking code expects.
   */
  sub?: string;
  /** Value of the `email_verified` claim. Defaults to `true`, the common case for relying parties to accept. */
  emailVerified?: boolean;
  /**
   * More ID-token claims, e.g. Google Workspace's `hd`, `groups`, or a partner's own `department`.
   * Only the names listed in {@link DevIdpOptions.customClaims} are issued, as a real provider issues
   * only the claims it is configured for.
   */
  claims?: Record<string, unknown>;
}

/** Options for {@link startDevIdp}. */
export interface DevIdpOptions {
  /** Interface to listen on. Defaults to `'127.0.0.1'` so the provider is never reachable from the network. */
  host?: string;
  /** Port to listen on. Defaults to `0` (ephemeral) so parallel test processes never collide. */
  port?: number;
  /** The one registered client's `client_id`, i.e. the `aud` of issued ID tokens. Defaults to `'partner-app'`. */
  clientId?: string;
  /**
   * More registered clients, e.g. two apps of one tenant or two partners sharing this IdP; ask for a
   * token for one of them with `getIdToken(user, { clientId })`. Defaults to none.
   */
  additionalClientIds?: string[];
  /** Lifetime of issued ID tokens. Defaults to 600 seconds. */
  idTokenTtlSeconds?: number;
  /**
   * Names of the custom claims the provider puts in ID tokens from {@link DevIdpUser.claims}.
   * Defaults to `['hd', 'groups', 'department']`.
   */
  customClaims?: readonly string[];
}

/** Snapshot of the requests made to the IdP by anything other than {@link DevIdp.getIdToken} itself. */
export interface DevIdpRequestCounts {
  /** Requests to `/.well-known/openid-configuration`. */
  discovery: number;
  /** Requests to the JWKS endpoint (the discovery document's `jwks_uri`). */
  jwks: number;
  /** All requests, including the two kinds above. */
  total: number;
}

/** A running local OpenID Connect provider. */
export interface DevIdp {
  /** e.g. `'http://127.0.0.1:54321'` (no trailing slash); equal to the discovery document's `issuer`. */
  readonly issuer: string;
  /** The registered client's id; the `aud` of every ID token issued by {@link DevIdp.getIdToken}. */
  readonly clientId: string;
  /**
   * Obtains an ID token for `user` by driving the provider's real authorization-code flow over HTTP
   * (authorize → interaction login → consent → token endpoint).
   *
   * Calls are independent (each uses its own cookie jar and PKCE pair) and may run concurrently. Calls for
   * the same `sub` are serialised, because the provider looks the account up by `sub` while the flow runs
   * and two in-flight calls with different claims for one `sub` would otherwise see each other's claims.
   */
  getIdToken(user: DevIdpUser, options?: { clientId?: string }): Promise<string>;
  /**
   * How many times each endpoint was fetched, so tests can assert e.g. "exactly one discovery fetch and one
   * JWKS fetch". Requests made by {@link DevIdp.getIdToken} itself are not counted, so minting tokens
   * concurrently with the code under test does not disturb the assertion. Each read returns a fresh snapshot.
   */
  readonly requestCounts: DevIdpRequestCounts;
  /** Sets every counter in {@link DevIdp.requestCounts} back to zero. */
  resetRequestCounts(): void;
  /** Stops listening and destroys open (including keep-alive) connections so the process can exit promptly. */
  close(): Promise<void>;
}

const DISCOVERY_PATH = '/.well-known/openid-configuration';
/**
 * `POST` `{ "email": "…", "sub"?: "…", "email_verified"?: false }` here answers `{ "id_token": "…" }`,
 * so the command line (`rialto-dev-idp token`) and non-JavaScript tools can mint tokens from a
 * running IdP. It runs the same authorization-code flow as {@link DevIdp.getIdToken}.
 */
// Routes are pinned rather than left to oidc-provider's defaults so the counters and the flow driver below
// cannot silently drift from what the discovery document advertises.
const ROUTES = { authorization: '/auth', token: '/token', jwks: '/jwks' } as const;
const INTERACTION_PATH = /^\/interaction\/([^/]+)$/;
// Nothing listens here: the driver only reads the `code` from the redirect's Location header.
const REDIRECT_URI = 'http://127.0.0.1/dev-idp/callback';
const SCOPE = 'openid email';
// The happy path needs 6 hops; the cap turns an unexpected redirect loop into a clear error.
const MAX_FLOW_STEPS = 12;
const MAX_FORM_BYTES = 16 * 1024;

const generateKeyPairAsync = promisify(generateKeyPair);

type OidcProviderModule = typeof import('oidc-provider');
let oidcProviderModule: Promise<OidcProviderModule> | undefined;

/**
 * oidc-provider prints "Unsupported runtime. Use Node.js v22.x LTS" when imported on Node 20 even though it
 * works there; the workspace supports Node >= 20.19, so that one line would only be noise in every test run.
 * Importing lazily lets us drop exactly that message and nothing else.
 */
function loadOidcProvider(): Promise<OidcProviderModule> {
  oidcProviderModule ??= (async () => {
    const originalWarn = console.warn;
    const filteredWarn = (...args: unknown[]): void => {
      if (typeof args[0] === 'string' && args[0].includes('oidc-provider WARNING: Unsupported runtime'))
        return;
      originalWarn.apply(console, args);
    };
    console.warn = filteredWarn;
    try {
      return await import('oidc-provider');
    } finally {
      // Someone else may have replaced console.warn meanwhile (e.g. a test spy); don't clobber theirs.
      if (console.warn === filteredWarn) console.warn = originalWarn;
    }
  })();
  return oidcProviderModule;
}

/** Starts a local OpenID Connect provider (oidc-provider) with one public client and an in-memory user list. */
export async function startDevIdp(options: DevIdpOptions = {}): Promise<DevIdp> {
  const host = options.host ?? '127.0.0.1';
  const clientId = options.clientId ?? 'partner-app';
  const idTokenTtlSeconds = options.idTokenTtlSeconds ?? 600;
  const clientIds = [clientId, ...(options.additionalClientIds ?? [])];

  const [{ default: OidcProvider }, signingKey] = await Promise.all([loadOidcProvider(), createSigningKey()]);

  const counts: DevIdpRequestCounts = { discovery: 0, jwks: 0, total: 0 };
  // Lets the server tell getIdToken's own traffic apart from the code under test without trusting callers.
  const internalMarker = randomUUID();
  let delegate: RequestListener | undefined;
  let mint: ((user: DevIdpUser) => Promise<string>) | undefined;

  const server = createServer((req, res) => {
    if (pathnameOf(req.url) === MINT_PATH) {
      void answerMintRequest(req, res, mint);
      return;
    }
    if (req.headers['x-dev-idp-internal'] !== internalMarker) {
      counts.total += 1;
      const path = pathnameOf(req.url);
      if (path === DISCOVERY_PATH) counts.discovery += 1;
      else if (path === ROUTES.jwks) counts.jwks += 1;
    }
    if (delegate) delegate(req, res);
    else res.writeHead(503).end();
  });

  // The issuer must contain the real port, so the provider can only be built once the socket is bound.
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const issuer = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  const users = new Map<string, { email: string; emailVerified: boolean; claims: Record<string, unknown> }>();
  const customClaims = [...(options.customClaims ?? ['hd', 'groups', 'department'])];

  const configuration: Configuration = {
    // Our own adapter, not the built-in memory one, because the built-in one prints a "MUST change" warning
    // on every Provider construction and shares one global store between instances.
    adapter: createMemoryAdapterFactory(),
    jwks: { keys: [signingKey] },
    clients: clientIds.map((client_id) => ({
      client_id,
      // Public client + PKCE: no secret to plumb through, and v9 requires PKCE for public clients anyway.
      token_endpoint_auth_method: 'none',
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      id_token_signed_response_alg: 'RS256',
    })),
    scopes: ['openid', 'email'],
    claims: { openid: ['sub', ...customClaims], email: ['email', 'email_verified'] },
    // With the default (true) oidc-provider only puts `sub` into an ID token when an access token for the
    // userinfo endpoint is issued alongside it, expecting the RP to fetch email from userinfo. Our consumers
    // read email straight from the ID token, so scope claims must be in it.
    conformIdTokenClaims: false,
    features: {
      // The built-in dev interactions print warnings and speak HTML; the JSON handler below is easier to drive.
      devInteractions: { enabled: false },
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    routes: { ...ROUTES },
    // Every TTL is set explicitly because oidc-provider logs a "you SHOULD change" notice for each default used.
    ttl: {
      AccessToken: 600,
      AuthorizationCode: 60,
      IdToken: idTokenTtlSeconds,
      Interaction: 600,
      Session: 600,
      Grant: 600,
    },
    // Loopback-only dev server: allowing every origin keeps browser-based demos working and avoids the notice
    // printed by the default implementation.
    clientBasedCORS: () => true,
    // JSON instead of the default HTML page so that a failed flow surfaces a readable error in getIdToken.
    renderError: (ctx, out) => {
      ctx.type = 'json';
      ctx.body = out;
    },
    findAccount: (_ctx, sub): Account | undefined => {
      const user = users.get(sub);
      if (!user) return undefined;
      return {
        accountId: sub,
        claims: () => ({ ...user.claims, sub, email: user.email, email_verified: user.emailVerified }),
      };
    },
  };

  let provider: Provider;
  try {
    provider = new OidcProvider(issuer, configuration);
  } catch (error) {
    await closeServer(server);
    throw error;
  }

  // oidc-provider turns unexpected exceptions into a generic `server_error` response and only reports the
  // cause through this event (and the `debug` module), so without a listener real bugs would be invisible.
  provider.on('server_error', (_ctx: unknown, error: unknown) => {
    console.error('dev-idp: oidc-provider server_error', error);
  });

  provider.use(async (ctx, next) => {
    const match = INTERACTION_PATH.exec(ctx.path);
    if (!match) return next();

    const interaction = await provider.interactionDetails(ctx.req, ctx.res);
    if (interaction.uid !== match[1])
      throw httpError(400, 'interaction cookie does not match the requested interaction');
    ctx.set('cache-control', 'no-store');

    if (ctx.method === 'GET') {
      // What a login/consent page would render; the driver uses it to decide what to submit.
      ctx.body = {
        uid: interaction.uid,
        prompt: interaction.prompt.name,
        details: interaction.prompt.details,
      };
      return;
    }
    if (ctx.method !== 'POST') throw httpError(405, 'method not allowed');

    const form = await readForm(ctx.req);
    const prompt = interaction.prompt.name;
    if (form.get('prompt') !== prompt) throw httpError(400, `expected a submission for prompt "${prompt}"`);

    let result: InteractionResults;
    let mergeWithLastSubmission: boolean;
    if (prompt === 'login') {
      const accountId = form.get('login');
      if (!accountId || !users.has(accountId)) throw httpError(400, 'unknown login');
      result = { login: { accountId } };
      mergeWithLastSubmission = false;
    } else if (prompt === 'consent') {
      const { session, params, grantId, prompt: detail } = interaction;
      const accountId = session?.accountId;
      if (!accountId) throw httpError(400, 'consent requested without a logged-in session');
      const grant = grantId
        ? await provider.Grant.find(grantId)
        : new provider.Grant({ accountId, clientId: String(params.client_id) });
      if (!grant) throw httpError(400, 'grant not found');
      // Grant exactly what the provider reports as missing, so the consent prompt is satisfied on resume.
      const missingScope = detail.details.missingOIDCScope;
      const missingClaims = detail.details.missingOIDCClaims;
      if (Array.isArray(missingScope)) grant.addOIDCScope(missingScope.join(' '));
      if (Array.isArray(missingClaims)) grant.addOIDCClaims(missingClaims as string[]);
      result = { consent: { grantId: await grant.save() } };
      mergeWithLastSubmission = true;
    } else {
      throw httpError(501, `prompt "${prompt}" is not supported by dev-idp`);
    }

    const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission });
    ctx.status = 303;
    ctx.redirect(returnTo);
  });

  delegate = provider.callback();

  const subjectLocks = new Map<string, Promise<void>>();
  async function withSubjectLock<T>(sub: string, fn: () => Promise<T>): Promise<T> {
    const previous = subjectLocks.get(sub) ?? Promise.resolve();
    const run = previous.then(fn);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    subjectLocks.set(sub, settled);
    try {
      return await run;
    } finally {
      if (subjectLocks.get(sub) === settled) subjectLocks.delete(sub);
    }
  }

  const drivers = new Map(
    clientIds.map((id) => [id, new AuthorizationCodeFlowDriver(issuer, id, internalMarker)]),
  );

  let closing: Promise<void> | undefined;

  const idp: DevIdp = {
    issuer,
    clientId,
    getIdToken(user: DevIdpUser, tokenOptions: { clientId?: string } = {}): Promise<string> {
      const driver = drivers.get(tokenOptions.clientId ?? clientId);
      if (!driver)
        return Promise.reject(new TypeError(`${tokenOptions.clientId} is not a registered client`));
      if (typeof user?.email !== 'string' || user.email === '') {
        return Promise.reject(new TypeError('DevIdpUser.email must be a non-empty string'));
      }
      const sub = user.sub ?? defaultSubFor(user.email);
      if (sub === '') return Promise.reject(new TypeError('DevIdpUser.sub must not be empty'));
      return withSubjectLock(sub, () => {
        users.set(sub, {
          email: user.email,
          emailVerified: user.emailVerified ?? true,
          claims: user.claims ?? {},
        });
        return driver.run(sub);
      });
    },
    get requestCounts(): DevIdpRequestCounts {
      return { ...counts };
    },
    resetRequestCounts(): void {
      counts.discovery = 0;
      counts.jwks = 0;
      counts.total = 0;
    },
    close(): Promise<void> {
      closing ??= closeServer(server);
      return closing;
    },
  };
  mint = (user) => idp.getIdToken(user);
  return idp;
}

async function answerMintRequest(
  req: IncomingMessage,
  res: ServerResponse,
  mint: ((user: DevIdpUser) => Promise<string>) | undefined,
): Promise<void> {
  const answer = (status: number, body: object) =>
    res
      .writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
      .end(JSON.stringify(body));
  if (req.method !== 'POST') return void answer(405, { error: 'use POST with a JSON body { "email": "…" }' });
  if (!mint) return void answer(503, { error: 'the IdP is still starting' });
  let body: unknown;
  try {
    body = JSON.parse((await readBytes(req)).toString('utf8'));
  } catch {
    return void answer(400, { error: 'the body must be JSON: { "email": "…", "sub"?: "…" }' });
  }
  const { email, sub, email_verified: emailVerified } = (body ?? {}) as Record<string, unknown>;
  if (
    typeof email !== 'string' ||
    email === '' ||
    (sub !== undefined && (typeof sub !== 'string' || sub === '')) ||
    (emailVerified !== undefined && typeof emailVerified !== 'boolean')
  ) {
    return void answer(400, {
      error: '`email` must be a non-empty string, `sub` a non-empty string and `email_verified` a boolean',
    });
  }
  try {
    const idToken = await mint({
      email,
      ...(sub === undefined ? {} : { sub }),
      ...(emailVerified === undefined ? {} : { emailVerified }),
    });
    answer(200, { id_token: idToken });
  } catch (error) {
    answer(500, { error: (error as Error).message });
  }
}

/** Stable across runs so a user keeps the same `sub` between test runs and demo restarts. */
function defaultSubFor(email: string): string {
  return `user-${createHash('sha256').update(email).digest('hex').slice(0, 24)}`;
}

async function createSigningKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPairAsync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  // RFC 7638 thumbprint: deterministic for the key, so the `kid` header can be matched against the JWKS.
  const kid = createHash('sha256')
    .update(JSON.stringify({ e: jwk.e, kty: jwk.kty, n: jwk.n }))
    .digest('base64url');
  return { ...jwk, kid, alg: 'RS256', use: 'sig' };
}

function closeServer(server: ReturnType<typeof createServer>): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    // server.close() alone waits for idle keep-alive sockets (e.g. from fetch's pool) to time out.
    server.closeAllConnections();
  });
}

/** Koa's default error handler answers with `status` and, because of `expose`, shows the message to the client. */
function httpError(status: number, message: string): Error {
  return Object.assign(new Error(message), { status, expose: true });
}

function pathnameOf(url: string | undefined): string {
  const path = url ?? '/';
  const queryStart = path.indexOf('?');
  return queryStart === -1 ? path : path.slice(0, queryStart);
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  return new URLSearchParams((await readBytes(req)).toString('utf8'));
}

async function readBytes(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_FORM_BYTES) throw httpError(413, 'form too large');
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * A tiny Map-backed oidc-provider adapter. State only needs to live as long as the process, and a private
 * store per provider keeps concurrently running IdPs (e.g. in parallel tests) from seeing each other's data.
 */
function createMemoryAdapterFactory(): AdapterFactory {
  const store = new Map<string, { payload: AdapterPayload; expiresAt: number }>();
  let writes = 0;

  const live = (key: string): AdapterPayload | undefined => {
    const entry = store.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      store.delete(key);
      return undefined;
    }
    return entry.payload;
  };

  const prune = (): void => {
    const now = Date.now();
    for (const [key, entry] of store) if (entry.expiresAt <= now) store.delete(key);
  };

  return (model) => {
    const keyFor = (id: string) => `${model}:${id}`;
    const findWhere = (predicate: (payload: AdapterPayload) => boolean): AdapterPayload | undefined => {
      for (const key of store.keys()) {
        if (!key.startsWith(`${model}:`)) continue;
        const payload = live(key);
        if (payload && predicate(payload)) return payload;
      }
      return undefined;
    };

    return {
      async upsert(id, payload, expiresIn) {
        // Long-running demos would otherwise accumulate every session and code ever issued.
        writes += 1;
        if (writes % 256 === 0) prune();
        store.set(keyFor(id), {
          payload,
          expiresAt: typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Number.POSITIVE_INFINITY,
        });
      },
      async find(id) {
        return live(keyFor(id));
      },
      async findByUid(uid) {
        return findWhere((payload) => payload.uid === uid);
      },
      async findByUserCode(userCode) {
        return findWhere((payload) => payload.userCode === userCode);
      },
      async consume(id) {
        const payload = live(keyFor(id));
        if (payload) payload.consumed = Math.floor(Date.now() / 1000);
      },
      async destroy(id) {
        store.delete(keyFor(id));
      },
      async revokeByGrantId(grantId) {
        for (const [key, entry] of store) {
          if (key.startsWith(`${model}:`) && entry.payload.grantId === grantId) store.delete(key);
        }
      },
    };
  };
}

/** Path-aware cookie jar; fetch in Node keeps no cookies, and each flow needs its own session anyway. */
class CookieJar {
  readonly #cookies = new Map<string, { name: string; value: string; path: string }>();

  store(response: Response, requestUrl: URL): void {
    for (const header of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = header.split(';');
      const separator = pair.indexOf('=');
      if (separator <= 0) continue;
      const name = pair.slice(0, separator).trim();
      const value = pair.slice(separator + 1).trim();
      let path = requestUrl.pathname.replace(/\/[^/]*$/, '') || '/';
      let expired = value === '';
      for (const attribute of attributes) {
        const [rawKey = '', ...rest] = attribute.split('=');
        const key = rawKey.trim().toLowerCase();
        const attributeValue = rest.join('=').trim();
        if (key === 'path' && attributeValue.startsWith('/')) path = attributeValue;
        if (key === 'max-age' && Number(attributeValue) <= 0) expired = true;
        if (key === 'expires' && Date.parse(attributeValue) <= Date.now()) expired = true;
      }
      const id = `${name};${path}`;
      if (expired) this.#cookies.delete(id);
      else this.#cookies.set(id, { name, value, path });
    }
  }

  headerFor(url: URL): string | undefined {
    const matching = [...this.#cookies.values()]
      .filter(
        ({ path }) =>
          url.pathname === path || url.pathname.startsWith(path.endsWith('/') ? path : `${path}/`),
      )
      // RFC 6265: more specific paths first, so the right one wins if a server reads the first occurrence.
      .sort((a, b) => b.path.length - a.path.length);
    return matching.length ? matching.map(({ name, value }) => `${name}=${value}`).join('; ') : undefined;
  }
}

/** Plays the part of a browser plus a relying-party backend in the authorization-code flow with PKCE. */
class AuthorizationCodeFlowDriver {
  constructor(
    private readonly issuer: string,
    private readonly clientId: string,
    private readonly internalMarker: string,
  ) {}

  async run(sub: string): Promise<string> {
    const jar = new CookieJar();
    const codeVerifier = randomBytes(32).toString('base64url');
    const state = randomBytes(16).toString('base64url');

    let next = new URL(ROUTES.authorization, this.issuer);
    next.search = new URLSearchParams({
      client_id: this.clientId,
      response_type: 'code',
      scope: SCOPE,
      redirect_uri: REDIRECT_URI,
      state,
      code_challenge: createHash('sha256').update(codeVerifier).digest('base64url'),
      code_challenge_method: 'S256',
    }).toString();

    let callback: URL | undefined;
    for (let step = 0; step < MAX_FLOW_STEPS && !callback; step += 1) {
      let response: Response;
      if (INTERACTION_PATH.test(next.pathname)) {
        const page = await this.request(jar, next, { method: 'GET' });
        const { prompt } = (await this.expectJson(page, next)) as { prompt: string };
        const form = new URLSearchParams({ prompt });
        if (prompt === 'login') form.set('login', sub);
        response = await this.request(jar, next, { method: 'POST', body: form });
      } else {
        response = await this.request(jar, next, { method: 'GET' });
      }
      next = await this.expectRedirect(response, next);
      if (next.href.startsWith(`${REDIRECT_URI}?`)) callback = next;
    }
    if (!callback)
      throw new Error(`dev-idp: authorization flow did not finish within ${MAX_FLOW_STEPS} steps`);

    const error = callback.searchParams.get('error');
    if (error) {
      const description = callback.searchParams.get('error_description');
      throw new Error(`dev-idp: authorization failed: ${error}${description ? ` (${description})` : ''}`);
    }
    // Cheap guard that the redirect we parsed belongs to this flow and not a mixed-up concurrent one.
    if (callback.searchParams.get('state') !== state) throw new Error('dev-idp: state mismatch in callback');
    const code = callback.searchParams.get('code');
    if (!code) throw new Error(`dev-idp: callback carried no code: ${callback.href}`);

    const tokenUrl = new URL(ROUTES.token, this.issuer);
    const tokenResponse = await this.request(jar, tokenUrl, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        redirect_uri: REDIRECT_URI,
        client_id: this.clientId,
        code_verifier: codeVerifier,
      }),
    });
    const { id_token: idToken } = (await this.expectJson(tokenResponse, tokenUrl)) as { id_token?: unknown };
    if (typeof idToken !== 'string') throw new Error('dev-idp: token response carried no id_token');
    return idToken;
  }

  private async request(jar: CookieJar, url: URL, init: { method: string; body?: URLSearchParams }) {
    const headers: Record<string, string> = { 'x-dev-idp-internal': this.internalMarker };
    const cookie = jar.headerFor(url);
    if (cookie) headers.cookie = cookie;
    const response = await fetch(url, { ...init, headers, redirect: 'manual' });
    jar.store(response, url);
    return response;
  }

  private async expectRedirect(response: Response, url: URL): Promise<URL> {
    const location = response.headers.get('location');
    if (response.status < 300 || response.status >= 400 || !location) {
      throw new Error(
        `dev-idp: expected a redirect from ${url.pathname}, got ${response.status}: ${await response.text()}`,
      );
    }
    // Drain the (empty) body so the keep-alive socket goes back to the pool.
    await response.arrayBuffer();
    return new URL(location, url);
  }

  private async expectJson(response: Response, url: URL): Promise<unknown> {
    const text = await response.text();
    if (!response.ok) throw new Error(`dev-idp: ${url.pathname} responded ${response.status}: ${text}`);
    return JSON.parse(text) as unknown;
  }
}
