/**
 * For authors of stores and other factories: validate your options the way `createRialtoExchange`
 * and the built-in stores do, with a zod schema, so a typo or a half-written object fails at
 * start-up with a TypeError naming the option (`unknown option \`keyPrefx\`; did you mean
 * \`keyPrefix\`?`) instead of being ignored.
 *
 * @example
 * import { parseOptions, positiveNumber, strictOptions } from '@rialto-exchange/core/option-schema';
 * import { z } from 'zod';
 *
 * const myStoreOptionsSchema = strictOptions({ namespace: z.string(), timeoutMs: positiveNumber().optional() });
 * export function myStore(options: MyStoreOptions): Store {
 *   parseOptions(myStoreOptionsSchema, options, 'myStore');
 *   // …
 * }
 * @packageDocumentation
 * @module @rialto-exchange/core/option-schema
 */
export {
  implementation,
  parseOptions,
  positiveNumber,
  requiredBecause,
  strictOptions,
} from './schema-helpers.js';
