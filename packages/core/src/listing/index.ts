/**
 * Paging of long listings: cursors and page sizes.
 * This file is the folder's public face: what the rest of core and the package's entry point take
 * from it. Inside core, modules import each other's files directly, so no import cycle runs
 * through a face.
 */
export type { Page, PageRequest } from './paging.js';
export { pageRequestSchema, readPage, readPageRequest } from './paging.js';
