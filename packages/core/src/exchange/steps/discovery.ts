import { RialtoError } from '../../errors.js';
import type { IssuerMetadata } from '../../issuers/discovery.js';
import { established } from '../exchange-context.js';
import { defineStep } from '../exchange-step.js';

/** An IdP document that could not be had; its cause (an upstream answer, perhaps) is logged, never sent. */
export function discoveryFailed(error: unknown): RialtoError {
  if (error instanceof RialtoError) return error;
  return new RialtoError('discovery_failed', undefined, { cause: error });
}

/** What to do when the issuer's documents cannot be fetched, for every step that fetches them. */
export const IDP_UNREACHABLE_FIX =
  "Make the issuer's /.well-known/openid-configuration and the jwks_uri it names reachable from this service over the network, answering JSON within the fetch timeout; check the issuer URL, DNS and firewalls.";

/**
 * Discovery and keys: the issuer's OpenID configuration, which must name the token's issuer, and
 * the key set it points to, each as cached (fetched on a miss, refreshed in the background).
 */
export const discoveryStep = defineStep({
  name: 'discovery',
  errors: ['discovery_failed', 'invalid_issuer'],
  async run(ctx) {
    const { discovery, remoteJwks } = ctx.deps;
    const { issuer } = established(ctx.registration);
    let metadata: IssuerMetadata;
    try {
      metadata = await discovery.getMetadata(issuer);
    } catch (error) {
      throw discoveryFailed(error);
    }
    if (metadata.issuer !== established(ctx.idToken).payload.iss) {
      throw new RialtoError(
        'invalid_issuer',
        "The token issuer does not match the issuer's OpenID configuration.",
      );
    }
    ctx.metadata = metadata;
    try {
      ctx.keySet = await remoteJwks.getKeySet(metadata.jwksUri);
    } catch (error) {
      throw discoveryFailed(error);
    }
  },
  explain: {
    kind: 'check',
    seen: ({ registration, metadata }) => ({
      registered_issuer: registration?.issuer,
      document_issuer: metadata?.issuer,
      jwks_uri: metadata?.jwksUri.href,
    }),
    fixes: {
      discovery_failed: IDP_UNREACHABLE_FIX,
      invalid_issuer:
        "The identity provider's discovery document names another issuer than the token's iss: register and use exactly the issuer the provider publishes (tenant path and trailing slash included).",
    },
  },
});
