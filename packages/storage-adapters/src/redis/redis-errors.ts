import { StoreUnavailableError } from '@rialto-exchange/core';

// Server replies that mean "not now" rather than "your command is wrong": the dataset is loading,
// a script is stuck, this node is a replica, persistence is failing, or memory is full.
const TRANSIENT_REPLY = /^(LOADING|BUSY|READONLY|MASTERDOWN|MISCONF|NOREPLICAS|TRYAGAIN|CLUSTERDOWN|OOM)\b/;

/**
 * node-redis raises `ErrorReply` (and subclasses) for error replies from the server and other
 * classes for the connection itself. The class is matched by name because the host may pass a
 * client built from its own copy of the package.
 */
function isErrorReply(error: unknown): error is Error {
  for (let proto = error instanceof Error ? Object.getPrototypeOf(error) : null; proto; ) {
    if (proto.constructor?.name === 'ErrorReply') return true;
    proto = Object.getPrototypeOf(proto);
  }
  return false;
}

export function isNoScriptReply(error: unknown): boolean {
  return isErrorReply(error) && error.message.startsWith('NOSCRIPT');
}

/**
 * Connection-level failures (offline, closed, reset, timed out) and transient server states become
 * `StoreUnavailableError`; any other error reply is a bug and is rethrown as it is.
 */
export function toStoreError(error: unknown): unknown {
  if (isErrorReply(error) && !TRANSIENT_REPLY.test(error.message)) return error;
  return new StoreUnavailableError('Redis is unreachable or failed to answer in time.', { cause: error });
}
