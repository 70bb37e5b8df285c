import { LRUCache } from 'lru-cache';
import { RialtoError } from '../errors.js';
import { type CompiledPolicy, compileExchangePolicy } from '../policy/compile-policy.js';
import type { ExchangePolicyInput } from '../policy/policy-schema.js';
import { policyOf } from '../store/kit/legacy-defaults.js';
import type { IssuerPolicyRecord, IssuerRegistrationRecord, LinkScope } from '../store/store.js';

/**
 * The exchange policy of a registration: checked and compiled from the registration body, stored
 * as sources with a version, and compiled again only when a registration or its version is new
 * to this process.
 */

/**
 * The stored policy for the policy fields of a registration body, compiled once to check it.
 * `null` or an absent field is none.
 * @throws RialtoError `invalid_request` naming the field and, for syntax and type errors, the
 *   position; a reserved claim name; a policy over the cost limit
 */
export function issuerPolicyRecord(
  input: ExchangePolicyInput,
  version: number,
  linkScope?: LinkScope,
): IssuerPolicyRecord {
  const condition = input.condition ?? null;
  const claimMappings = { ...(input.claim_mappings ?? {}) };
  compileExchangePolicy({ condition, claimMappings });
  // Left out rather than defaulted: a registration stored without it keeps reading as `org`.
  return { condition, claimMappings, ...(linkScope === undefined ? {} : { linkScope }), version };
}

/** What a change of a registration's policy changed, for its audit event. */
export interface IssuerPolicyDiff {
  /** The condition before and after, when it changed (`null`: none). */
  condition?: { before: string | null; after: string | null };
  /** Names of the mappings added, removed, and given another expression. */
  claimMappings?: { added: string[]; removed: string[]; changed: string[] };
  /** The link scope before and after, when it changed. */
  linkScope?: { before: LinkScope; after: LinkScope };
}

/** The differences between two policies; `{}` when they are the same. */
export function diffIssuerPolicies(before: IssuerPolicyRecord, after: IssuerPolicyRecord): IssuerPolicyDiff {
  const diff: IssuerPolicyDiff = {};
  if (before.condition !== after.condition) {
    diff.condition = { before: before.condition, after: after.condition };
  }
  const names = new Set([...Object.keys(before.claimMappings), ...Object.keys(after.claimMappings)]);
  const added: string[] = [];
  const removed: string[] = [];
  const changed: string[] = [];
  for (const name of [...names].sort()) {
    const was = Object.hasOwn(before.claimMappings, name) ? before.claimMappings[name] : undefined;
    const is = Object.hasOwn(after.claimMappings, name) ? after.claimMappings[name] : undefined;
    if (was === undefined) added.push(name);
    else if (is === undefined) removed.push(name);
    else if (was !== is) changed.push(name);
  }
  if (added.length + removed.length + changed.length > 0) diff.claimMappings = { added, removed, changed };
  const scopeBefore = before.linkScope ?? 'org';
  const scopeAfter = after.linkScope ?? 'org';
  if (scopeBefore !== scopeAfter) diff.linkScope = { before: scopeBefore, after: scopeAfter };
  return diff;
}

/**
 * The policy a registration's exchanges run, compiled at most once per (registration, version)
 * in this process; `null` when it has neither condition nor mappings (nothing to evaluate).
 */
export interface CompiledPolicies {
  of(registration: IssuerRegistrationRecord): CompiledPolicy | null;
}

export function createCompiledPolicies(max: number): CompiledPolicies {
  const cache = new LRUCache<string, CompiledPolicy>({ max });
  return {
    of(registration) {
      const policy = policyOf(registration);
      if (policy.condition === null && Object.keys(policy.claimMappings).length === 0) return null;
      const key = `${registration.registrationId}:${policy.version}`;
      let compiled = cache.get(key);
      if (compiled === undefined) {
        compiled = compileStored(policy);
        cache.set(key, compiled);
      }
      return compiled;
    },
  };
}

function compileStored(policy: IssuerPolicyRecord): CompiledPolicy {
  try {
    return compileExchangePolicy(policy);
  } catch (error) {
    // Registration compiled it; one that no longer compiles (a library upgrade changed the
    // language) must not admit anyone, nor tell the partner about the operator's configuration.
    throw new RialtoError(
      'access_denied',
      `Policy version ${policy.version} of this issuer cannot be evaluated; the service operator must update it.`,
      { cause: error },
    );
  }
}
