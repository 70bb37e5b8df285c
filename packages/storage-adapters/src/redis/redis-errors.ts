import { isNetworkError } from '../internal/network-errors.js';

// Server replies that mean "not now" rather than "your command is wrong": the dataset is loading,
// a script is stuck, this node is a replica, persistence is failing, or memory is full.
const TRANSIENT_REPLY = /^(LOADING|BUSY|READONLY|MASTERDOWN|MISCONF|NOREPLICAS|TRYAGAIN|CLUSTERDOWN|OOM)\b/;

// node-redis's errors for a connection that is closed, offline, lost, timed out or unreachable, and
// for a command dropped unwritten when its `timeout` ran out.
const CONNECTION_ERRORS: ReadonlySet<string> = new Set([
  'AbortError',
  'ClientClosedError',
  'ClientOfflineError',
  'ConnectionTimeoutError',
  'DisconnectsClientError',
  'ReconnectStrategyError',
  'RootNodesUnavailableError',
  'SocketClosedUnexpectedlyError',
  'SocketTimeoutError',
  'TimeoutError',
]);

/**
 * Whether `error`, or a class it extends, is named `name`. Classes are matched by name because the
 * host may pass a client built from its own copy of the package.
 */
function isA(error: unknown, names: ReadonlySet<string> | string): boolean {
  if (!(error instanceof Error)) return false;
  const matches = (name: unknown) =>
    typeof name === 'string' && (typeof names === 'string' ? name === names : names.has(name));
  if (matches(error.name)) return true;
  for (let proto = Object.getPrototypeOf(error); proto; proto = Object.getPrototypeOf(proto)) {
    if (matches(proto.constructor?.name)) return true;
  }
  return false;
}

/** node-redis raises `ErrorReply` (and subclasses) for error replies from the server. */
function isErrorReply(error: unknown): error is Error {
  return isA(error, 'ErrorReply');
}

export function isNoScriptReply(error: unknown): boolean {
  return isErrorReply(error) && error.message.startsWith('NOSCRIPT');
}

/**
 * Connection-level failures (offline, closed, reset, timed out) and transient server states: the
 * store runner turns them into `StoreUnavailableError`. Any other error reply is a bug in a
 * command, and is rethrown as it is.
 */
export function isUnavailable(error: unknown): boolean {
  if (isErrorReply(error)) return TRANSIENT_REPLY.test(error.message);
  return isA(error, CONNECTION_ERRORS) || isNetworkError(error);
}
