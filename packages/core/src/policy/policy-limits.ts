/*
 * The documented bounds of an exchange policy. Registration refuses what exceeds the source bounds
 * and the cost limit; evaluation refuses ID-token claims that exceed the input bounds, which is what
 * makes the registration-time cost estimate an upper bound on the work an exchange can do.
 */

/** The longest `condition`, as Google's workload identity federation allows for attribute conditions. */
export const MAX_CONDITION_CHARS = 4096;

/** The longest expression of one claim mapping, as Google allows for an attribute mapping. */
export const MAX_MAPPING_CHARS = 2048;

/** The most `claim_mappings` one issuer registration may hold (Google allows 50 custom attributes). */
export const MAX_CLAIM_MAPPINGS = 50;

/** The longest claim name a mapping or the host hook may add (Google's limit for attribute keys). */
export const MAX_CLAIM_NAME_CHARS = 100;

/** The custom claims of one access token, mapped and added by the hook together, as JSON bytes. */
export const MAX_CUSTOM_CLAIMS_JSON_BYTES = 4096;

/**
 * The estimated worst-case cost of a whole policy (condition plus every mapping), in units of about
 * 10 ns of evaluation (one node visit, or copying 20 characters). The estimate assumes every claim
 * the policy reads is as large as the input bounds below allow. A comprehension over a claim list
 * costs up to 256 iterations of its body, each of which may build an evaluation error (priced at
 * 1,000 units: about 10 µs each, measured), so one such comprehension is priced at 260,000 to 330,000
 * units: the limit admits three and refuses any nested over claims. Measured on the loaded 2-core
 * development machine, a policy at the limit on the worst input the bounds admit takes about
 * 10 ms; the typical policy (a condition and two mappings) evaluates in a few µs.
 */
export const POLICY_COST_LIMIT = 1_000_000;

/** The longest string an ID-token claim read by a policy may hold, in UTF-16 code units. */
export const MAX_INPUT_STRING_CHARS = 1024;

/** The most elements of a list, or entries of an object, in a claim read by a policy. */
export const MAX_INPUT_COLLECTION_ITEMS = 256;

/**
 * The claims a policy reads, all together: characters of strings plus elements and entries of
 * collections plus scalars. An Entra ID token with 200 group ids uses about 8,000. Converting the
 * claims is the one cost outside the expressions' estimate; it is linear in these units, and at
 * worst (16,384 whole numbers, each becoming a CEL int) took about 0.5 ms on the loaded 2-core
 * development machine.
 */
export const MAX_INPUT_TOTAL_UNITS = 16_384;

/** How deep lists and objects may nest inside one claim read by a policy. */
export const MAX_INPUT_DEPTH = 8;
