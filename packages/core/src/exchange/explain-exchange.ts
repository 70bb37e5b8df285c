import { errorBody, type RialtoErrorCode, toRialtoError } from '../errors.js';
import { OAuthError, type OAuthErrorCode, oauthErrorBody } from '../oauth/oauth-error.js';
import type { ExchangeContext, ExchangeInput } from './exchange-context.js';
import type { ExchangeStep, ExplainStepName, StepExplanation, StepFixes } from './exchange-step.js';
import { EXCHANGE_STEPS, type ExchangePipeline } from './pipeline.js';
import { runStep } from './run-exchange.js';

/**
 * The error an exchange answers, with its status: the exchange's code, or, for what a token-endpoint
 * request asks for (its `grant` step), the token endpoint's own OAuth error (`invalid_target`, …).
 */
export interface ExplainedError {
  error: RialtoErrorCode | OAuthErrorCode;
  error_description: string;
  status: number;
}

/** One check of an exchange, as `POST /identity/auth/exchange/explain` reports it. */
export interface ExplainStep {
  step: ExplainStepName;
  /** `skipped` once an earlier step failed, or when the check cannot run without writing. */
  result: 'pass' | 'fail' | 'skipped';
  /** What the check looked at: claims, header fields, settings and times; never the token, a key or a secret. */
  seen: Record<string, unknown>;
  /** On the failing step: the error the exchange answers for it. */
  error?: ExplainedError;
  /** On the failing step: what to change. */
  fix?: string;
  /** On a skipped step: why it did not run. */
  note?: string;
}

/** The body of `POST /identity/auth/exchange/explain`. */
export interface ExchangeExplanation {
  /** Whether the exchange would answer 200 with this token now. */
  would_succeed: boolean;
  /** What the exchange would answer instead: the first failing step's error, or `null`. */
  error: ExplainedError | null;
  steps: ExplainStep[];
}

const NOT_RUN = 'not run: an earlier step failed';

/**
 * The token debugger: runs the exchange's own steps on the same input, in the same order, and
 * reports each (see `StepExplanation` for how each kind of step is treated); the first failing
 * step names the error the exchange would answer. Nothing is written and nothing is minted.
 * @throws RialtoError as the exchange does for the client's credentials, its organization's
 *   standing and rate limit, and a store outage: nothing is explained to a caller the exchange would not hear
 */
export async function explainExchange(
  pipeline: ExchangePipeline,
  input: ExchangeInput,
): Promise<ExchangeExplanation> {
  const ctx: ExchangeContext = { deps: pipeline.deps, input };
  const steps: ExplainStep[] = [];
  let failure: ExplainedError | null = null;
  for (const step of pipeline.steps) {
    const { explain } = step;
    if (failure !== null) {
      if (isReported(explain))
        steps.push({ step: reportedName(step), result: 'skipped', seen: {}, note: NOT_RUN });
      continue;
    }
    switch (explain.kind) {
      case 'omit':
        break;
      case 'skip':
        steps.push({ step: reportedName(step), result: 'skipped', seen: {}, note: explain.note });
        break;
      case 'gate':
        await runStep(step, ctx, step.run);
        if (explain.seen) steps.push({ step: reportedName(step), result: 'pass', seen: explain.seen(ctx) });
        break;
      case 'check':
      case 'preview': {
        const error = await failureOf(step, ctx, explain.kind === 'preview' ? explain.preview : step.run);
        const name = reportedName(step);
        const seen = explain.seen(ctx);
        if (error === undefined) {
          steps.push({ step: name, result: 'pass', seen });
        } else {
          failure = error;
          steps.push({
            step: name,
            result: 'fail',
            seen,
            error: failure,
            fix: exchangeErrorFix(name, error.error),
          });
        }
      }
    }
  }
  return { would_succeed: failure === null, error: failure, steps };
}

/** The step's failure as the exchange (or the token endpoint) answers it, or `undefined` when it passed. */
async function failureOf(
  step: ExchangeStep,
  ctx: ExchangeContext,
  work: (ctx: ExchangeContext) => Promise<void> | void,
): Promise<ExplainedError | undefined> {
  try {
    await runStep(step, ctx, work);
    return undefined;
  } catch (error) {
    // The token endpoint's refusal of what its request asks for (invalid_target, invalid_scope, a
    // missing DPoP proof), answered with the token endpoint's own code.
    if (error instanceof OAuthError) {
      const { error: code, error_description } = oauthErrorBody(error);
      return { error: code, error_description, status: error.status };
    }
    const rialtoError = toRialtoError(error);
    // The store down or a bug says nothing about the token: answered (and logged) as the exchange would.
    if (rialtoError.status >= 500 && rialtoError.code !== 'discovery_failed') throw error;
    // Only `grant` of the exchange's steps answers invalid_request; from any other it is the
    // debugger's own request that is wrong (a draft policy that does not compile), answered as
    // registration answers it.
    if (rialtoError.code === 'invalid_request' && !step.errors.includes('invalid_request')) throw error;
    return { ...errorBody(rialtoError), status: rialtoError.status };
  }
}

/** Whether the debugger's answer has an entry for the step: all but gates without `seen`, and omitted steps. */
function isReported(explain: StepExplanation): boolean {
  return explain.kind !== 'omit' && (explain.kind !== 'gate' || explain.seen !== undefined);
}

/** The name of a step the debugger reports, which is always an `ExplainStepName`. */
function reportedName(step: ExchangeStep): ExplainStepName {
  return step.name as ExplainStepName;
}

/**
 * Fixes by the debugger's step names. The debugger answers a gate's refusal itself, before it
 * reports anything, so every gate's fixes are filed under `api_key`, the step that stands for the
 * caller being heard.
 */
const FIXES = new Map<ExplainStepName, StepFixes>();
for (const step of EXCHANGE_STEPS) {
  const { explain } = step;
  if (explain.kind === 'skip' || explain.kind === 'omit') continue;
  const name = explain.kind === 'gate' ? 'api_key' : reportedName(step);
  FIXES.set(name, { ...explain.fixes, ...FIXES.get(name) });
}

/**
 * What to change when an exchange fails at `step` with `code`, in plain words; used by the token
 * debugger and by the CLI for the refusals the debugger answers itself (under `api_key`: the API
 * key, the organization's standing and the rate limits).
 */
export function exchangeErrorFix(step: ExplainStepName, code: RialtoErrorCode | OAuthErrorCode): string {
  return (
    FIXES.get(step)?.[code] ??
    'An unexpected error occurred; the service log has its cause. Retry, and report it if it persists.'
  );
}
