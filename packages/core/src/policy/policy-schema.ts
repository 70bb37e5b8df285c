import { z } from 'zod';
import { claimNameProblem } from './claim-names.js';
import { MAX_CLAIM_MAPPINGS, MAX_CONDITION_CHARS, MAX_MAPPING_CHARS } from './policy-limits.js';

// Tabs and line breaks lay out a long expression; every other control or format character could
// make the source read differently from how it parses (Trojan Source, CVE-2021-42574).
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const HIDDEN_CHARACTER = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\p{Cf}]/u;

function expressionSource(maxChars: number) {
  return z
    .string()
    .min(1)
    .max(maxChars)
    .refine((source) => source.trim().length > 0, 'must not be blank')
    .refine(
      (source) => !HIDDEN_CHARACTER.test(source),
      'must not contain control or invisible format characters other than tabs and line breaks',
    );
}

// Names are checked on the whole record rather than as its key schema, so the issue path names a
// printable name only: a refused name may be the spoofing text itself.
function checkClaimNames(mappings: Record<string, string>, context: z.RefinementCtx): void {
  if (Object.keys(mappings).length > MAX_CLAIM_MAPPINGS) {
    context.addIssue({ code: 'custom', message: `must hold at most ${MAX_CLAIM_MAPPINGS} mappings` });
  }
  for (const name of Object.keys(mappings)) {
    const problem = claimNameProblem(name);
    if (!problem) continue;
    context.addIssue(
      problem.isQuotable
        ? { code: 'custom', path: [name], message: problem.reason }
        : { code: 'custom', message: `a claim name ${problem.reason}` },
    );
  }
}

/**
 * The policy fields of an issuer registration body, in the style of `issuerFields`: spread them
 * into `issuerRegistrationSchema` (and the PATCH body) to accept them. `null` removes a field on
 * PATCH. Shape only: `compileExchangePolicy` compiles and type-checks what these accept.
 *
 * @example
 * const schema = z.strictObject({ ...issuerFields, ...exchangePolicyFields });
 */
export const exchangePolicyFields = {
  /** A CEL expression over `claims`, `issuer` and `org` that must be true. */
  condition: expressionSource(MAX_CONDITION_CHARS).nullable().optional(),
  /** Access-token claim name → CEL expression. */
  claim_mappings: z
    .record(z.string(), expressionSource(MAX_MAPPING_CHARS))
    .superRefine(checkClaimNames)
    .nullable()
    .optional(),
};

/** The two policy fields on their own, e.g. a draft policy sent to the debugger. */
export const exchangePolicySchema = z.strictObject(exchangePolicyFields);

export type ExchangePolicyInput = z.infer<typeof exchangePolicySchema>;
