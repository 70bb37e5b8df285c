import { RialtoError } from '../errors.js';
import type { UserRecord } from '../store/store.js';
import { claimNameProblem } from './claim-names.js';
import { CustomClaims, type JsonValue, toJsonValue } from './custom-claims.js';

/** What the host's exchange-policy hook is given. */
export interface ExchangePolicyHookInput {
  /** The verified ID-token claims. */
  readonly claims: Readonly<Record<string, unknown>>;
  readonly org: { readonly id: string; readonly name: string };
  /** The issuer URL of the registration that verified the token. */
  readonly issuer: string;
  /** The user this identity already maps to, or `null` on a first exchange. */
  readonly user: UserRecord | null;
  /**
   * True when the debugger (`explain`) runs the hook: nothing will be written and no token minted,
   * so the hook must not have side effects of its own either (counters, emails, audit rows).
   */
  readonly dryRun: boolean;
  /** Aborted when the deadline passes: stop outstanding work (fetches, queries) then. */
  readonly signal: AbortSignal;
}

/**
 * What the hook decides. `deny` refuses the exchange with that reason, which is shown to the
 * caller (`403 access_denied`), so it must not contain secrets. `claims` adds custom access-token
 * claims (JSON values, names the exchange does not own, 4 KiB of JSON together with the mapped
 * claims); a hook claim replaces a mapped claim of the same name. Nothing (`undefined`) allows;
 * `deny` wins over `claims` if a result has both.
 */
export type ExchangePolicyHookResult =
  | { deny: string }
  | { claims?: Readonly<Record<string, JsonValue>> }
  | undefined
  // biome-ignore lint/suspicious/noConfusingVoidType: an async hook that allows may just not return
  | void;

/**
 * A host function that decides what CEL cannot (Auth0 Actions' post-login trigger does the same):
 * look a partner user up in the host's own database, call an entitlement service, apply rules that
 * need state. It runs after the policy's condition and mappings and before anything is written, so
 * a denial leaves no user, no identity and no event behind.
 *
 * It runs under a deadline: past it the exchange answers `503 temporarily_unavailable` (never
 * hangs) and `signal` is aborted. A hook that throws, or returns claims the exchange refuses,
 * makes the exchange answer `500 server_error`; the error is kept as the cause for the host's
 * log and never sent to the caller. Synchronous work cannot be interrupted: keep it short.
 *
 * @example
 * const hook: ExchangePolicyHook = async ({ claims, user, signal }) => {
 *   const account = await db.partnerAccounts.find(claims.sub, { signal });
 *   if (account?.blocked) return { deny: 'This account is blocked by the partner program.' };
 *   return { claims: { partner_tier: account?.tier ?? 'standard', returning: user !== null } };
 * };
 */
export type ExchangePolicyHook = (
  input: ExchangePolicyHookInput,
) => ExchangePolicyHookResult | Promise<ExchangePolicyHookResult>;

/** The hook's decision, with the custom claims merged. */
export type PolicyHookOutcome =
  | { status: 'allowed'; claims: Record<string, JsonValue> }
  | { status: 'denied'; reason: string };

export interface PolicyHookRunnerOptions {
  /**
   * How long the hook may take before the exchange answers 503.
   * @default 2000
   */
  timeoutMs?: number;
}

/**
 * Runs the host hook once for a verified token, given the claims the policy mapped.
 * @returns the hook's decision, with the mapped claims and the hook's claims merged
 * @throws RialtoError `temporarily_unavailable` past the deadline; `server_error` (with the hook's
 *   error or a description of its refused output as `cause`) when it throws or returns what the
 *   exchange cannot use
 */
export type PolicyHookRunner = (
  input: Omit<ExchangePolicyHookInput, 'signal'>,
  mappedClaims: Readonly<Record<string, JsonValue>>,
) => Promise<PolicyHookOutcome>;

/** Long enough for a database lookup or an internal HTTP call; an exchange should not wait longer. */
export const DEFAULT_POLICY_HOOK_TIMEOUT_MS = 2_000;
const MAX_DENY_REASON_CHARS = 200;
// A deny reason is sent to the client: printable text only (no controls, no format characters).
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\p{Cf}]/u;

/**
 * Wraps a host hook with its deadline and output checks.
 * @throws TypeError at once when `timeoutMs` is not a positive integer
 * @example
 * const runHook = createPolicyHookRunner(hook, { timeoutMs: 1500 });
 * const outcome = await runHook({ claims, org, issuer, user, dryRun: false }, verdict.claims);
 */
export function createPolicyHookRunner(
  hook: ExchangePolicyHook,
  options: PolicyHookRunnerOptions = {},
): PolicyHookRunner {
  const timeoutMs = options.timeoutMs ?? DEFAULT_POLICY_HOOK_TIMEOUT_MS;
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
    throw new TypeError('policyHook: `timeoutMs` must be a positive integer of milliseconds');
  }

  return async function runPolicyHook(
    input: Omit<ExchangePolicyHookInput, 'signal'>,
    mappedClaims: Readonly<Record<string, JsonValue>>,
  ): Promise<PolicyHookOutcome> {
    const controller = new AbortController();
    let timedOut: RialtoError | undefined;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const cause = new Error(`The exchange policy hook did not settle within ${timeoutMs} ms.`);
        timedOut = new RialtoError(
          'temporarily_unavailable',
          'The exchange policy did not answer in time. Retry later.',
          { cause, headers: { 'retry-after': '1' } },
        );
        controller.abort(cause);
        reject(timedOut);
      }, timeoutMs);
    });
    let result: ExchangePolicyHookResult;
    try {
      result = await Promise.race([
        // Inside the promise chain, so a hook that throws synchronously is caught like one that rejects.
        Promise.resolve().then(() => hook({ ...input, signal: controller.signal })),
        deadline,
      ]);
    } catch (error) {
      if (timedOut && error === timedOut) throw timedOut;
      throw new RialtoError('server_error', undefined, { cause: error });
    } finally {
      clearTimeout(timer);
    }
    return outcomeOf(result, mappedClaims);
  };
}

function outcomeOf(
  result: ExchangePolicyHookResult,
  mappedClaims: Readonly<Record<string, JsonValue>>,
): PolicyHookOutcome {
  if (result != null && 'deny' in result) {
    const reason = result.deny;
    if (typeof reason !== 'string' || reason.trim().length === 0 || reason.length > MAX_DENY_REASON_CHARS) {
      throw refusedOutput(`deny must be a non-empty reason of at most ${MAX_DENY_REASON_CHARS} characters`);
    }
    if (UNPRINTABLE.test(reason)) {
      throw refusedOutput('deny must not contain control or invisible format characters');
    }
    return { status: 'denied', reason };
  }
  const claims = new CustomClaims();
  for (const [name, value] of Object.entries(mappedClaims)) claims.add(name, value);
  const added = result?.claims ?? {};
  if (typeof added !== 'object' || added === null || Array.isArray(added)) {
    throw refusedOutput('claims must be an object of claim name to JSON value');
  }
  for (const [name, value] of Object.entries(added)) {
    const problem = claimNameProblem(name);
    if (problem) {
      throw refusedOutput(
        problem.isQuotable ? `the claim ${name} ${problem.reason}` : `a claim name ${problem.reason}`,
      );
    }
    const json = toJsonValue(value);
    if (!json.ok) throw refusedOutput(`the claim ${name} is not JSON: ${json.reason}`);
    const fit = claims.add(name, json.value);
    if (!fit.ok) throw refusedOutput(fit.reason);
  }
  return { status: 'allowed', claims: claims.toJSON() };
}

function refusedOutput(what: string): RialtoError {
  return new RialtoError('server_error', undefined, {
    cause: new TypeError(`The exchange policy hook returned what the exchange cannot use: ${what}.`),
  });
}
