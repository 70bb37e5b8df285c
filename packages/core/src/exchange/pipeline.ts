import type { RialtoErrorCode } from '../errors.js';
import type { ExchangeDependencies } from './exchange-context.js';
import type { ExchangeStep } from './exchange-step.js';
import { apiKeyStep } from './steps/api-key.js';
import { audienceStep } from './steps/audience.js';
import { claimsStep } from './steps/claims.js';
import { discoveryStep } from './steps/discovery.js';
import { grantStep } from './steps/grant.js';
import { issuerStep } from './steps/issuer.js';
import { linkingStep } from './steps/linking.js';
import { mintingStep } from './steps/minting.js';
import { orgRateLimitStep } from './steps/org-rate-limit.js';
import { orgStandingStep } from './steps/org-standing.js';
import { policyStep } from './steps/policy.js';
import { signatureStep } from './steps/signature.js';
import { singleUseStep } from './steps/single-use.js';
import { timesStep } from './steps/times.js';
import { tokenShapeStep } from './steps/token-shape.js';
import { tokenTypeStep } from './steps/token-type.js';

/**
 * The exchange, in the order of the error table of docs/troubleshooting.md, so a request with several faults always
 * gets the same answer. The exchange runs the list and stops at the first failure
 * (`runExchange`); the token debugger runs the same list and reports each step (`explainExchange`);
 * the exchange route's OpenAPI errors are the steps' errors. Nothing is written before
 * `single_use` but, at the token endpoint, the DPoP proof's `jti` in `grant` (a proof is good for
 * one request whatever its outcome).
 */
export const EXCHANGE_STEPS: readonly ExchangeStep[] = [
  apiKeyStep,
  orgStandingStep,
  orgRateLimitStep,
  tokenShapeStep,
  issuerStep,
  discoveryStep,
  signatureStep,
  timesStep,
  tokenTypeStep,
  audienceStep,
  claimsStep,
  // What the request asks for beyond the verified token (narrowing, a DPoP key), checked before the
  // policy, which may call the host's hook.
  grantStep,
  // After every check of the token, before any write: a refusal leaves nothing behind.
  policyStep,
  singleUseStep,
  linkingStep,
  mintingStep,
];

/** Every code the exchange can answer, step by step. */
export const EXCHANGE_ERRORS: readonly RialtoErrorCode[] = errorsOf(EXCHANGE_STEPS);

/**
 * What the token debugger answers itself: the refusals of the steps it runs as the exchange does,
 * and `invalid_request` for a draft policy that does not compile.
 */
export const EXPLAIN_ERRORS: readonly RialtoErrorCode[] = [
  ...errorsOf(EXCHANGE_STEPS.filter((step) => step.explain.kind === 'gate')),
  'invalid_request',
];

/** The steps an exchange instance runs with its options, and what they use. */
export interface ExchangePipeline {
  readonly steps: readonly ExchangeStep[];
  readonly deps: ExchangeDependencies;
}

export function createExchangePipeline(deps: ExchangeDependencies): ExchangePipeline {
  return { steps: EXCHANGE_STEPS.filter((step) => step.isEnabled?.(deps) ?? true), deps };
}

function errorsOf(steps: readonly ExchangeStep[]): RialtoErrorCode[] {
  return [...new Set(steps.flatMap((step) => step.errors))];
}
