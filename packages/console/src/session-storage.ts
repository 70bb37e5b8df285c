import type { ConsoleSessionRecord, ConsoleSessionStore } from '@rialto-exchange/core';

/**
 * Where console sessions live: the exchange's store by default, so signing out on one instance
 * ends the session on all of them. Only a hash of the session id is kept (a store dump opens no
 * session), with the fingerprint of the credential that signed in, so rotating the admin token
 * ends every session opened with the old one.
 */
export type ConsoleSessionStorage = ConsoleSessionStore;

export type { ConsoleSessionRecord };
