import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { RialtoError, type RialtoExchange } from '@rialto-exchange/core';
import { html } from './html.js';
import { httpReferenceFile } from './http-reference.js';
import { type ConsoleResponse, plainResponse, redirect } from './responses.js';
import type { Screen, ScreenContext } from './screen.js';
import { page } from './screen.js';
import { debuggerScreen, explainToken } from './screens/debugger.js';
import { healthScreen } from './screens/health.js';
import { issuerScreen, saveIssuerPolicy } from './screens/issuer.js';
import {
  addIssuer,
  deleteOrganization,
  issueApiKey,
  organizationScreen,
  removeIssuer,
  resumeOrganization,
  revokeApiKey,
  setAudience,
  setDpopBoundAccessTokens,
  setProvisioning,
  suspendOrganization,
} from './screens/organization.js';
import { createOrganization, organizationsScreen } from './screens/organizations.js';
import { signInScreen } from './screens/sign-in.js';
import { rotateSigningKey, signingKeysScreen } from './screens/signing-keys.js';
import {
  deleteUser,
  endAllUserSessions,
  endUserSession,
  setUserFlags,
  setUserRole,
  userScreen,
  usersScreen,
} from './screens/users.js';
import { redeliverDelivery, webhookScreen } from './screens/webhooks.js';
import { type ActiveSession, cookieValue, createSessionCookies, secretsMatch } from './sessions.js';

export interface RialtoConsoleOptions {
  /** The exchange the console operates: `rialtoExchange().exchange`, or `createRialtoExchange()`'s result. */
  exchange: RialtoExchange;
  /**
   * The console's URL as browsers reach it, e.g. `https://admin.example.com/rialto-admin`: its path
   * is where the console is mounted, and the session cookie is `Secure` exactly when it is https.
   */
  publicUrl: string;
  /**
   * Lets the host's own sign-in (SSO) admit operators: called with the framework's request on
   * every console request; `true` admits. With it, the admin-token form is still offered when the
   * exchange has an `adminToken`.
   */
  authorize?: (request: unknown) => boolean | Promise<boolean>;
  /** How long a session lasts after sign-in. @default 28800 (8 hours) */
  sessionTtlSeconds?: number;
  /**
   * Signs session cookies; give every instance the same one. @default derived from the exchange's
   * `adminToken` (so rotating the token also voids every cookie), else random per process
   */
  sessionSecret?: string;
}

/** A request as the console reads it; bindings map their framework's request to it. */
export interface ConsoleRequest {
  method: string;
  /** The path under the console's mount point, starting with `/`. */
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  /** The `application/x-www-form-urlencoded` body of a POST. */
  form?: URLSearchParams;
  ip?: string;
  /** The framework's own request, handed to `authorize`. */
  raw: unknown;
}

export interface RialtoConsole {
  handle(request: ConsoleRequest): Promise<ConsoleResponse>;
  /** The console's path, from its public URL. */
  readonly basePath: string;
}

const DEFAULT_SESSION_TTL_SECONDS = 8 * 60 * 60;
const SIGN_IN_COOKIE = 'rialto_console_sign_in';
// The facade names sessions the host admitted `host:<principal>`; the hook names no principal.
const HOST_PRINCIPAL = 'authorize-hook';
const HOST_PRINCIPAL_PREFIX = 'host:';

interface Route {
  method: 'GET' | 'POST';
  pattern: RegExp;
  keys: string[];
  screen: Screen;
}

function route(method: 'GET' | 'POST', template: string, screen: Screen): Route {
  const keys: string[] = [];
  const source = template.replace(/:(\w+)/g, (_match, key: string) => {
    keys.push(key);
    return '([^/]+)';
  });
  return { method, pattern: new RegExp(`^${source}/?$`), keys, screen };
}

const ORG = '/organizations/:orgId';
const ROUTES: Route[] = [
  route('GET', '/organizations', organizationsScreen),
  route('POST', '/organizations', createOrganization),
  route('GET', ORG, (ctx) => organizationScreen(ctx)),
  route('POST', `${ORG}/suspend`, suspendOrganization),
  route('POST', `${ORG}/resume`, resumeOrganization),
  route('POST', `${ORG}/provisioning`, setProvisioning),
  route('POST', `${ORG}/audience`, setAudience),
  route('POST', `${ORG}/dpop`, setDpopBoundAccessTokens),
  route('POST', `${ORG}/delete`, deleteOrganization),
  route('POST', `${ORG}/api-keys`, issueApiKey),
  route('POST', `${ORG}/api-keys/:keyId/revoke`, revokeApiKey),
  route('POST', `${ORG}/issuers`, addIssuer),
  route('POST', `${ORG}/issuers/:issuerId/remove`, removeIssuer),
  route('GET', `${ORG}/issuers/:issuerId`, (ctx) => issuerScreen(ctx)),
  route('POST', `${ORG}/issuers/:issuerId/policy`, saveIssuerPolicy),
  route('GET', `${ORG}/users`, usersScreen),
  route('GET', `${ORG}/users/:userId`, (ctx) => userScreen(ctx)),
  route('POST', `${ORG}/users/:userId/role`, setUserRole),
  route('POST', `${ORG}/users/:userId/flags`, setUserFlags),
  route('POST', `${ORG}/users/:userId/delete`, deleteUser),
  route('POST', `${ORG}/users/:userId/sessions/end-all`, endAllUserSessions),
  route('POST', `${ORG}/users/:userId/sessions/:sessionId/end`, endUserSession),
  route('GET', `${ORG}/webhooks/:webhookId`, (ctx) => webhookScreen(ctx)),
  route('POST', `${ORG}/webhooks/:webhookId/deliveries/:deliveryId/redeliver`, redeliverDelivery),
  route('GET', '/keys', (ctx) => signingKeysScreen(ctx)),
  route('POST', '/keys/rotate', rotateSigningKey),
  route('GET', '/debugger', (ctx) => debuggerScreen(ctx)),
  route('POST', '/debugger', explainToken),
  route('GET', '/health', healthScreen),
];

function asset(name: string, contentType: string): ConsoleResponse {
  // Next to src/ and dist/ alike, so the same path serves from source and from the build.
  const body = readFileSync(new URL(`../assets/${name}`, import.meta.url));
  return {
    status: 200,
    headers: {
      'content-type': contentType,
      'x-content-type-options': 'nosniff',
      'cache-control': 'public, max-age=3600',
    },
    body,
  };
}

const ASSETS: Record<string, ConsoleResponse> = {
  '/assets/console.css': asset('console.css', 'text/css; charset=utf-8'),
  '/assets/console.js': asset('console.js', 'text/javascript; charset=utf-8'),
};

function headerValue(headers: ConsoleRequest['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The console without a web framework: sign-in and sessions, CSRF checks, and the screens. The
 * Express binding (`rialtoConsole`) maps requests to it; another framework's binding would too.
 */
export function createRialtoConsole(options: RialtoConsoleOptions): RialtoConsole {
  const { exchange, authorize } = options;
  const publicUrl = new URL(options.publicUrl);
  const base = publicUrl.pathname.replace(/\/+$/, '');
  const secure = publicUrl.protocol === 'https:';
  const hasAdminToken = exchange.options.adminToken !== undefined;
  if (!hasAdminToken && authorize === undefined) {
    throw new TypeError(
      'rialtoConsole(): nobody could sign in: give the exchange an `adminToken`, or pass `authorize`.',
    );
  }
  const secret =
    options.sessionSecret ??
    (exchange.options.adminToken === undefined
      ? randomBytes(32).toString('base64url')
      : createHmac('sha256', 'rialto-console cookie key')
          .update(exchange.options.adminToken)
          .digest('base64url'));
  const ttlSeconds = options.sessionTtlSeconds ?? DEFAULT_SESSION_TTL_SECONDS;
  const sessions = exchange.consoleSessions;
  const cookies = createSessionCookies(sessions, { path: base || '/', secure, secret });
  const cookieAttributes = [`Path=${base || '/'}`, 'HttpOnly', 'SameSite=Strict', secure && 'Secure']
    .filter(Boolean)
    .join('; ');
  const now = () => Math.floor(Date.now() / 1000);

  async function isAuthorizedByHost(request: ConsoleRequest): Promise<boolean> {
    return authorize !== undefined && (await authorize(request.raw)) === true;
  }

  /**
   * The request's session. The facade refuses one opened with an admin token since replaced; one
   * the host's hook opened stays valid only while the hook still admits the request.
   */
  async function currentSession(request: ConsoleRequest): Promise<ActiveSession | null> {
    const session = await cookies.read(headerValue(request.headers, 'cookie'));
    if (!session) return null;
    if (
      session.record.credentialFingerprint.startsWith(HOST_PRINCIPAL_PREFIX) &&
      !(await isAuthorizedByHost(request))
    ) {
      await sessions.end(session.sessionId);
      return null;
    }
    return session;
  }

  /** A POST from another origin is refused whatever it carries; browsers send Origin on every POST. */
  function isCrossOrigin(request: ConsoleRequest): boolean {
    const origin = headerValue(request.headers, 'origin');
    return origin !== undefined && origin !== publicUrl.origin;
  }

  function signInPage(view: { error?: string; notice?: string; status?: number }, clearSession = false) {
    const formToken = randomBytes(24).toString('base64url');
    const setCookies = [`${SIGN_IN_COOKIE}=${formToken}; ${cookieAttributes}; Max-Age=3600`];
    if (clearSession) setCookies.push(cookies.clearCookie());
    return signInScreen({ base, formToken, hasAdminToken, ...view }, { 'set-cookie': setCookies });
  }

  async function signIn(request: ConsoleRequest): Promise<ConsoleResponse> {
    const form = request.form ?? new URLSearchParams();
    const expected = cookieValue(headerValue(request.headers, 'cookie'), SIGN_IN_COOKIE);
    if (!expected || !secretsMatch(form.get('csrf') ?? '', expected)) {
      return signInPage({ error: 'The sign-in form expired. Please try again.', status: 403 });
    }
    try {
      exchange.operators.admitSignInAttempt(request.ip);
    } catch (error) {
      if (!(error instanceof RialtoError) || error.status >= 500) throw error;
      return signInPage({ error: error.description, status: error.status });
    }
    const started = await sessions.signIn(form.get('admin_token') ?? '', ttlSeconds);
    if (started === null) return signInPage({ error: 'That is not the admin token.', status: 401 });
    return redirect(`${base}/organizations`, {
      'set-cookie': [cookies.setCookie(started, now()), `${SIGN_IN_COOKIE}=; ${cookieAttributes}; Max-Age=0`],
    });
  }

  function errorPage(ctx: ScreenContext, error: RialtoError): ConsoleResponse {
    return page(ctx, {
      title: error.status === 404 ? 'Not found' : 'Refused',
      section: 'organizations',
      body: html`<div class="error" role="alert"><p>${error.description}</p></div><p><a href="${base}/organizations">Back to organizations</a></p>`,
      status: error.status,
    });
  }

  async function serveScreen(request: ConsoleRequest, session: ActiveSession): Promise<ConsoleResponse> {
    const ctx: ScreenContext = {
      exchange,
      base,
      csrfToken: session.csrfToken,
      params: {},
      query: request.query,
      form: request.form ?? new URLSearchParams(),
    };
    const matched = ROUTES.filter((candidate) => candidate.pattern.test(request.path));
    const selected = matched.find((candidate) => candidate.method === request.method);
    if (!selected) {
      if (matched.length > 0) return plainResponse(405, 'Method not allowed.');
      return errorPage(ctx, new RialtoError('not_found', 'No such page.'));
    }
    const values = selected.pattern.exec(request.path)?.slice(1) ?? [];
    selected.keys.forEach((key, index) => {
      ctx.params[key] = decodeURIComponent(values[index] ?? '');
    });
    try {
      return await selected.screen(ctx);
    } catch (error) {
      if (error instanceof RialtoError && error.status < 500) return errorPage(ctx, error);
      throw error;
    }
  }

  return {
    basePath: base,
    async handle(request) {
      const method = request.method.toUpperCase();
      const assetResponse = method === 'GET' ? ASSETS[request.path] : undefined;
      if (assetResponse) return assetResponse;
      if (method === 'POST' && isCrossOrigin(request))
        return plainResponse(403, 'Cross-origin request refused.');
      if (request.path === '/sign-in') {
        if (method === 'POST') return signIn(request);
        if ((await currentSession(request)) !== null) return redirect(`${base}/organizations`);
        return signInPage({});
      }
      const session = await currentSession(request);
      if (session === null && method === 'GET' && (await isAuthorizedByHost(request))) {
        const started = await sessions.start(HOST_PRINCIPAL, ttlSeconds);
        return redirect(`${base}${request.path}`, { 'set-cookie': cookies.setCookie(started, now()) });
      }
      if (session === null) {
        const clear = { 'set-cookie': cookies.clearCookie() };
        return method === 'GET'
          ? redirect(`${base}/sign-in`, clear)
          : signInPage({ status: 401, error: 'Your session ended. Sign in again.' }, true);
      }
      if (method === 'POST' && !secretsMatch(request.form?.get('csrf') ?? '', session.csrfToken)) {
        return plainResponse(
          403,
          'The form is out of date (CSRF check failed). Reload the page and try again.',
        );
      }
      if (request.path === '/sign-out' && method === 'POST') {
        await sessions.end(session.sessionId);
        return signInPage({ notice: 'Signed out.' }, true);
      }
      if (request.path === '/' || request.path === '') return redirect(`${base}/organizations`);
      // The page loads its files by relative paths, so it lives at a path ending in a slash.
      if (request.path === '/reference' && method === 'GET') return redirect(`${base}/reference/`);
      if (request.path.startsWith('/reference/') && method === 'GET') {
        const file = httpReferenceFile(request.path.slice('/reference/'.length));
        if (file) return file;
      }
      return serveScreen(request, session);
    },
  };
}
