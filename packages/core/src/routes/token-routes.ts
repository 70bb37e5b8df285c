import { clientAddressKey } from '../client-address-key.js';
import { toRialtoError } from '../errors.js';
import type { ExchangeProgress } from '../exchange-token.js';
import type { RequestLike } from '../http-types.js';
import { header, json } from '../internal/http.js';
import type { Route } from '../internal/route.js';
import { enforceRateLimit } from '../rate-limit.js';
import { refusedFor, type Services } from '../services.js';

/** `POST /identity/auth/exchange`, `/exchange/explain`, `/refresh` and `/revoke`. */
export function tokenRoutes({
  tokenExchange,
  exchangeExplainer,
  refreshTokens,
  events,
  ipLimiter,
  telemetry,
  options,
}: Services): Route[] {
  const onRefused = refusedFor(telemetry.metrics, 'client_address');
  const { ipv6PrefixLength } = options.rateLimit;
  function admitClient(request: RequestLike): void {
    if (request.ip === undefined || ipLimiter === undefined) return;
    const key = clientAddressKey(request.ip, ipv6PrefixLength);
    enforceRateLimit(ipLimiter, key, 'this client address', onRefused);
  }

  return [
    {
      method: 'POST',
      pattern: /^\/identity\/auth\/exchange$/,
      scheme: 'api_key',
      async run(request) {
        admitClient(request);
        const progress: ExchangeProgress = {};
        try {
          const { tokens, org, registration, provisioned } = await tokenExchange.exchange(
            header(request, 'x-api-key'),
            request.body,
            progress,
          );
          const { userId } = provisioned.user;
          const userCreated = provisioned.created;
          if (userCreated) events.emit('user.created', { orgId: org.orgId, userId });
          events.emit('exchange.succeeded', {
            orgId: org.orgId,
            userId,
            issuer: registration.issuer,
            userCreated,
          });
          return json(200, tokens);
        } catch (error) {
          const { code, status } = toRialtoError(error);
          events.emit('exchange.failed', { code, status, ...progress });
          throw error;
        }
      },
    },
    {
      method: 'POST',
      pattern: /^\/identity\/auth\/exchange\/explain$/,
      scheme: 'api_key',
      async run(request) {
        // The exchange's own limits: explaining is no way around them.
        admitClient(request);
        return json(200, await exchangeExplainer.explain(header(request, 'x-api-key'), request.body));
      },
    },
    {
      method: 'POST',
      pattern: /^\/identity\/auth\/refresh$/,
      scheme: 'none',
      async run(request) {
        admitClient(request);
        return json(200, await refreshTokens.refresh(request.body));
      },
    },
    {
      method: 'POST',
      pattern: /^\/identity\/auth\/revoke$/,
      scheme: 'none',
      async run(request) {
        admitClient(request);
        await refreshTokens.revoke(request.body);
        return json(200, {});
      },
    },
  ];
}
