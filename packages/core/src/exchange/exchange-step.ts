import type { RialtoErrorCode } from '../errors.js';
import type { OAuthErrorCode } from '../oauth/oauth-error.js';
import type { ExchangeContext, ExchangeDependencies } from './exchange-context.js';

/** The steps the token debugger reports, in the order the exchange runs them. */
export type ExplainStepName =
  | 'api_key'
  | 'token_shape'
  | 'issuer'
  | 'discovery'
  | 'signature'
  | 'times'
  | 'token_type'
  | 'audience'
  | 'claims'
  | 'grant'
  | 'policy'
  | 'single_use'
  | 'linking';

/** Every step of the exchange; the debugger reports the `ExplainStepName` ones. */
export type ExchangeStepName = ExplainStepName | 'org_standing' | 'org_rate_limit' | 'minting';

/**
 * What to tell the partner's developer for each error a step can answer: the exchange's codes, and
 * the token endpoint's own OAuth refusals of what a request asks for (`invalid_target`, …).
 */
export type StepFixes = Partial<Record<RialtoErrorCode | OAuthErrorCode, string>>;

/**
 * How the token debugger treats a step:
 * - `gate`: run as the exchange runs it; a failure is answered as the exchange answers it, since
 *   nothing is explained to a caller the exchange would not hear. Reported (as passed) only when
 *   it has `seen`.
 * - `check`: run as the exchange runs it and reported: passed, or failed with the exchange's
 *   error and the fix.
 * - `preview`: `preview` runs instead of the step, reading and never writing; reported as `check`.
 * - `skip`: not run (it cannot run without writing); reported as skipped with `note`.
 * - `omit`: not run and not reported (minting: the debugger mints nothing).
 *
 * `seen` is what the step compared (claims, header fields, settings, times), read from the context
 * once it ran, whatever its result; never the token, a key or a secret.
 */
export type StepExplanation =
  | { kind: 'gate'; seen?(ctx: ExchangeContext): Record<string, unknown>; fixes: StepFixes }
  | { kind: 'check'; seen(ctx: ExchangeContext): Record<string, unknown>; fixes: StepFixes }
  | {
      kind: 'preview';
      preview(ctx: ExchangeContext): Promise<void>;
      seen(ctx: ExchangeContext): Record<string, unknown>;
      fixes: StepFixes;
    }
  | { kind: 'skip'; note: string }
  | { kind: 'omit' };

/**
 * One named check or action of the exchange, as node-oidc-provider builds an endpoint from small
 * actions. Steps are built once, at module load, and take everything per request from the context.
 */
export interface ExchangeStep {
  /** The step's name in the debugger's answer. */
  readonly name: ExchangeStepName;
  /** `rialto.exchange.<name>`. */
  readonly spanName: string;
  /** Every code the step can answer with; the exchange route's OpenAPI errors are their union. */
  readonly errors: readonly RialtoErrorCode[];
  /** Whether the exchange runs the step with these options (decided once). @default always */
  isEnabled?(deps: ExchangeDependencies): boolean;
  /**
   * Checks, or acts, and records what it established in the context.
   * @throws RialtoError one of `errors`, or a store outage
   */
  run(ctx: ExchangeContext): Promise<void> | void;
  readonly explain: StepExplanation;
}

/** A step, its span named after it. */
export function defineStep(step: Omit<ExchangeStep, 'spanName'>): ExchangeStep {
  return { ...step, spanName: `rialto.exchange.${step.name}` };
}
