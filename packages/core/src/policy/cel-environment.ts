import { Environment } from '@marcbachmann/cel-js';
import { MAX_INPUT_COLLECTION_ITEMS } from './policy-limits.js';

/**
 * The one CEL environment every policy expression is compiled in. Only `claims`, `issuer` and
 * `org` are declared; an undeclared name is a type error, so nothing else is reachable.
 * Optional types stay off (the cost model does not cover them) and literals may mix types, so
 * `[claims.hd, "fallback"]` type-checks as it does in cel-go.
 */
export const policyEnvironment = new Environment({
  unlistedVariablesAreDyn: false,
  homogeneousAggregateLiterals: false,
  enableOptionalTypes: false,
  // Structural limits checked while parsing, far below the library's defaults: a 4 KiB source
  // cannot need more, and the cost estimator recurses over the tree.
  limits: {
    maxAstNodes: 2048,
    maxDepth: 32,
    maxListElements: MAX_INPUT_COLLECTION_ITEMS,
    maxMapEntries: MAX_INPUT_COLLECTION_ITEMS,
    maxCallArguments: 8,
  },
})
  .registerVariable('claims', 'map<string, dyn>', { description: 'The verified ID-token claims.' })
  .registerVariable('issuer', 'string', { description: "The registration's issuer URL." })
  .registerVariable('org', 'map<string, string>', { description: 'The organization: id and name.' });
