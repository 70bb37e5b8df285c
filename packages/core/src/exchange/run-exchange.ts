import { type RialtoErrorCode, toRialtoError } from '../errors.js';
import { OAuthError } from '../oauth/oauth-error.js';
import { inSpan, tracesNothing } from '../telemetry/tracing.js';
import type { TokenResponse } from '../tokens/mint-tokens.js';
import { type ExchangeContext, type ExchangeInput, established } from './exchange-context.js';
import type { ExchangeStep } from './exchange-step.js';
import type { ExchangePipeline } from './pipeline.js';

/**
 * Exchanges a partner IdP's ID token for this service's tokens: runs every step in order and
 * stops at the first failure, so a request with several faults always gets the same error. Emits
 * `exchange.succeeded` or `exchange.failed` (with the organization and issuer once established).
 * @throws RialtoError the first failing step's
 */
export async function runExchange(pipeline: ExchangePipeline, input: ExchangeInput): Promise<TokenResponse> {
  const ctx: ExchangeContext = { deps: pipeline.deps, input };
  const { events } = pipeline.deps;
  const grantType = input.grantType === 'exchange' ? {} : { grantType: input.grantType };
  try {
    if (tracesNothing(pipeline.deps.tracer)) {
      // Without an SDK a step's span would be a no-op: calling the step itself saves a closure and
      // a promise per step, and a microtask for each step that finishes synchronously.
      for (const step of pipeline.steps) {
        const running = step.run(ctx);
        if (running !== undefined) await running;
      }
    } else {
      for (const step of pipeline.steps) await runStep(step, ctx, step.run);
    }
  } catch (error) {
    const { code, status } = failureOf(error);
    const { orgId, registration } = ctx;
    events.emit('exchange.failed', {
      code,
      status,
      ...grantType,
      ...(orgId === undefined ? {} : { orgId }),
      ...(registration === undefined ? {} : { issuer: registration.issuer }),
    });
    throw error;
  }
  const { user, created } = established(ctx.provisioned);
  events.emit('exchange.succeeded', {
    orgId: established(ctx.org).orgId,
    userId: user.userId,
    issuer: established(ctx.registration).issuer,
    userCreated: created,
    ...grantType,
  });
  return established(ctx.tokens);
}

/** Runs `work` (the step itself, or the debugger's stand-in) in the step's span. */
export function runStep(
  step: ExchangeStep,
  ctx: ExchangeContext,
  work: (ctx: ExchangeContext) => Promise<void> | void,
): Promise<void> {
  return inSpan(ctx.deps.tracer, step.spanName, async () => work(ctx));
}

// The token endpoint's own refusals (OAuthError) keep their status; they were malformed requests.
function failureOf(error: unknown): { code: RialtoErrorCode; status: number } {
  if (error instanceof OAuthError)
    return { code: error.rialtoError ?? 'invalid_request', status: error.status };
  return toRialtoError(error);
}
