/**
 * The one schema of the options, their types and defaults.
 * This file is the folder's public face: what the rest of core and the package's entry point take
 * from it. Inside core, modules import each other's files directly, so no import cycle runs
 * through a face.
 */
export type { ResolvedRialtoExchangeOptions, RialtoExchangeOptions } from './options.js';
export { resolveOptions } from './options.js';
export {
  implementation,
  named,
  orFalse,
  parseOptions,
  positiveNumber,
  routePath,
  strictOptions,
  wholeNumberAtLeastOne,
} from './schema-helpers.js';
