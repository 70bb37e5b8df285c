/**
 * The admin console of rialto-exchange: server-rendered screens over the exchange's facade, mounted
 * with `app.use('/rialto-admin', rialtoConsole({ exchange, publicUrl }))`.
 * @packageDocumentation
 * @module @rialto-exchange/console
 */
export type { ConsoleRequest, RialtoConsole, RialtoConsoleOptions } from './console-handler.js';
export { createRialtoConsole } from './console-handler.js';
export type { RialtoConsoleRouter } from './express.js';
export { rialtoConsole } from './express.js';
export type { ConsoleResponse } from './responses.js';
export { CONTENT_SECURITY_POLICY } from './responses.js';
