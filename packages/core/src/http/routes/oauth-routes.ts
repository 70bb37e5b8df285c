import { clientAddressKey } from '../../limits/client-address-key.js';
import { enforceRateLimit } from '../../limits/rate-limit.js';
import { oauthErrorResponse, toOAuthError } from '../../oauth/error-mapping.js';
import { tokenRequestSchema } from '../../oauth/token-request.js';
import { refusedFor, type Services } from '../../services.js';
import type { OAuthGrantLabel } from '../../telemetry/prometheus-metrics.js';
import type { RequestLike } from '../http-types.js';
import { json } from '../messages.js';
import { declareRoute, type Route } from '../route.js';
import { oauthTokenResponseSchema } from '../wire-format.js';

/** `POST /oauth/token`. */
export function oauthRoutes({ tokenEndpoint, ipLimiter, telemetry, options }: Services): Route[] {
  const onRefused = refusedFor(telemetry.metrics, 'client_address');
  const { ipv6PrefixLength } = options.rateLimit;
  // The exchange's per-address limit: every attempt counts, refused ones included.
  function admitClient(request: RequestLike): void {
    if (request.ip === undefined || ipLimiter === undefined) return;
    enforceRateLimit(
      ipLimiter,
      clientAddressKey(request.ip, ipv6PrefixLength),
      'this client address',
      onRefused,
    );
  }
  const remoteRetryAfterSeconds = options.remoteFailureBackoffSeconds;
  const recorder = telemetry.metrics;
  const errorContext = (request: RequestLike) => ({
    endpoint: 'token' as const,
    clientAuthMethod: triedBasic(request) ? ('client_secret_basic' as const) : undefined,
    remoteRetryAfterSeconds,
  });

  return [
    declareRoute({
      route: 'POST /oauth/token',
      credentials: [],
      handlesRequestItself: true,
      body: tokenRequestSchema,
      operationId: 'oauthToken',
      summary: 'OAuth 2.0 token endpoint: token exchange (RFC 8693), jwt-bearer (RFC 7523) and refresh_token',
      description:
        "The organization is the OAuth client: `client_id` is its id, `client_secret` its API key, sent by HTTP Basic (`client_secret_basic`), in the form (`client_secret_post`) or as `X-API-Key`. Token exchange takes the partner IdP's ID token as `subject_token`, jwt-bearer as `assertion`; `audience`, `resource` and `scope` narrow the token to some of the organization's audiences. A `DPoP` proof binds the access token to its key (RFC 9449).",
      tag: 'Tokens',
      responses: { 200: oauthTokenResponseSchema },
      errors: [],
      oauth: {
        endpoint: 'token',
        answerError: (error, request) => oauthErrorResponse(error, errorContext(request)),
      },
      async run(request) {
        if (recorder === undefined) {
          admitClient(request);
          return json(200, await tokenEndpoint.token(request));
        }
        let grantType: OAuthGrantLabel = 'unsupported';
        try {
          admitClient(request);
          const tokens = await tokenEndpoint.token(request, (label) => {
            grantType = label;
          });
          recorder.oauthTokenAnswered(grantType, 'success');
          return json(200, tokens);
        } catch (error) {
          recorder.oauthTokenAnswered(grantType, toOAuthError(error, errorContext(request)).code);
          throw error;
        }
      },
    }),
  ];
}

// RFC 6749 §5.2: a failed Basic authentication is challenged, whatever else the request got wrong.
function triedBasic(request: RequestLike): boolean {
  const authorization = request.headers.authorization;
  const value = Array.isArray(authorization) ? authorization[0] : authorization;
  return value !== undefined && /^basic(?: |$)/i.test(value);
}
