/**
 * The service's own signing keys: schedule, rotation, publication.
 * This file is the folder's public face: what the rest of core and the package's entry point take
 * from it. Inside core, modules import each other's files directly, so no import cycle runs
 * through a face.
 */
export type {
  AccessTokenAlgorithm,
  HostKeys,
  LoadedKeys,
  RotatedKey,
  SigningKeyStatus,
  SigningKeys,
} from './signing-keys.js';
export { createSigningKeys, REFRESH_TOKEN_ALGORITHM } from './signing-keys.js';
