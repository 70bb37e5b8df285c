import { RialtoError, toRialtoError } from './errors.js';
import type { RialtoEvents } from './events.js';
import type { RequestLike, ResponseLike } from './http-types.js';
import { type AuthScheme, errorResponse } from './internal/http.js';
import { createRouteTable } from './internal/route.js';
import type { RialtoAccessTokenClaims } from './mint-tokens.js';
import { type ResolvedRialtoExchangeOptions, type RialtoExchangeOptions, resolveOptions } from './options.js';
import {
  type OrganizationRegistration,
  type RegisteredOrganization,
  registrationSchema,
} from './organizations.js';
import { adminRoutes } from './routes/admin-routes.js';
import { tokenRoutes } from './routes/token-routes.js';
import { userRoutes } from './routes/user-routes.js';
import { wellKnownRoutes } from './routes/well-known-routes.js';
import { createServices } from './services.js';
import type { VerifyAccessTokenOptions } from './verify-access-token.js';

/** The exchange service: an HTTP-agnostic handler plus what host code needs beside it. */
export interface RialtoExchange {
  /**
   * Answers a request addressed to one of the exchange's routes.
   * @returns `null` when no route matches, so the host can pass the request on.
   */
  handle(request: RequestLike): Promise<ResponseLike | null>;
  /** Whether `handle` answers this path (for some method); cheap, so bindings can pass other requests on. */
  handlesPath(path: string): boolean;
  /**
   * Verifies an access token minted by this service, for guarding host routes.
   * @throws RialtoError `invalid_access_token` or `insufficient_claims`
   */
  verifyAccessToken(token: string, options?: VerifyAccessTokenOptions): Promise<RialtoAccessTokenClaims>;
  /**
   * Verifies the request's `Authorization: Bearer` access token.
   * @throws RialtoError `unauthorized` (no bearer token), `invalid_access_token` or `insufficient_claims`
   */
  authenticateBearer(
    headers: RequestLike['headers'],
    options?: VerifyAccessTokenOptions,
  ): Promise<{ claims: RialtoAccessTokenClaims; token: string }>;
  /** Turns any error into the JSON error response; unknown errors become `server_error`. */
  errorResponse(error: unknown, scheme?: AuthScheme): ResponseLike;
  /** Subscribe to audit events: `exchange.on('exchange.failed', ({ code, orgId }) => …)`. */
  on: RialtoEvents['on'];
  /** Registers an organization from host code (scripts, seeding), as the admin route does. */
  registerOrganization(input: OrganizationRegistration): Promise<RegisteredOrganization>;
  readonly options: ResolvedRialtoExchangeOptions;
}

/**
 * Builds the exchange: services, caches and routes are created once here; per request only
 * `handle` runs.
 *
 * @example
 * const exchange = createRialtoExchange({ issuer: 'https://api.example.com', store: memoryStore() });
 * const response = await exchange.handle({ method: 'GET', path: '/.well-known/jwks.json', headers: {} });
 */
export function createRialtoExchange(input: RialtoExchangeOptions): RialtoExchange {
  const options = resolveOptions(input);
  const services = createServices(options);
  const { logger } = options;
  const routes = createRouteTable([
    ...tokenRoutes(services),
    ...userRoutes(services),
    ...adminRoutes(services),
    ...wellKnownRoutes(services),
  ]);

  function respondWithError(error: unknown, scheme: AuthScheme = 'none'): ResponseLike {
    const rialtoError = toRialtoError(error);
    if (rialtoError.status >= 500) {
      logger.error(
        { err: rialtoError.cause ?? rialtoError, code: rialtoError.code },
        'rialto-exchange request failed',
      );
    } else if (rialtoError.code === 'discovery_failed') {
      logger.warn({ err: rialtoError.cause, code: rialtoError.code }, 'identity provider unreachable');
    }
    return errorResponse(rialtoError, scheme);
  }

  return {
    options,
    handlesPath: routes.handlesPath,
    async handle(request) {
      const candidates = routes.match(request.path);
      if (candidates.length === 0) return null;
      const selected = candidates.find(({ route }) => route.method === request.method);
      if (!selected) {
        const allow = candidates.map(({ route }) => route.method).join(', ');
        return respondWithError(new RialtoError('method_not_allowed', undefined, { headers: { allow } }));
      }
      try {
        return await selected.route.run(request, selected.params);
      } catch (error) {
        return respondWithError(error, selected.route.scheme);
      }
    },
    verifyAccessToken: services.accessTokens.verify,
    authenticateBearer: services.accessTokens.authenticate,
    errorResponse: respondWithError,
    on: services.events.on,
    registerOrganization: (registration) =>
      services.organizations.register(registrationSchema.parse(registration)),
  };
}
