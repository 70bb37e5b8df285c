import { StoreUnavailableError } from '@rialto-exchange/core';
import { isNetworkError } from '../internal/network-errors.js';

interface DriverError {
  code?: unknown;
  errno?: unknown;
  fatal?: unknown;
  message?: unknown;
}

function fields(error: unknown): DriverError {
  return typeof error === 'object' && error !== null ? (error as DriverError) : {};
}

/** A UNIQUE or PRIMARY KEY violation: another writer got there first. */
export function isUniqueViolation(error: unknown): boolean {
  const { code, errno } = fields(error);
  return (
    code === '23505' ||
    errno === 1062 ||
    code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
  );
}

/** The database aborted the transaction to break a deadlock or a serialization conflict; retrying is safe. */
export function isRetryableConflict(error: unknown): boolean {
  const { code, errno } = fields(error);
  return code === '40P01' || code === '40001' || errno === 1213;
}

// PostgreSQL: connection exceptions (class 08), statement_timeout (57014), shutdown or startup in
// progress (57P01-57P03), too many connections (53300).
const POSTGRES_UNAVAILABLE = /^(08...|57014|57P0[1-3]|53300)$/;
// pg and pg-pool signal a lost or never-made connection with plain Errors.
const POSTGRES_UNAVAILABLE_MESSAGE =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Query read timeout)/;
const MYSQL_UNAVAILABLE = new Set([
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_CON_COUNT_ERROR',
  'ER_TOO_MANY_USER_CONNECTIONS',
  'ER_SERVER_SHUTDOWN',
  'ER_LOCK_WAIT_TIMEOUT',
]);
// SQLite: the file is locked past busy_timeout, unreadable, or the disk is full.
const SQLITE_UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|IOERR|CANTOPEN|FULL)/;

/**
 * Backend outages: the store runner turns these into `StoreUnavailableError` and rethrows any other
 * error as it is.
 */
export function isUnavailable(error: unknown): boolean {
  if (isNetworkError(error)) return true;
  const { code, fatal, message } = fields(error);
  if (typeof code === 'string') {
    if (MYSQL_UNAVAILABLE.has(code)) return true;
    if (POSTGRES_UNAVAILABLE.test(code) || SQLITE_UNAVAILABLE.test(code)) return true;
  }
  // mysql2 marks every error that killed the connection as fatal.
  if (fatal === true) return true;
  if (typeof message === 'string' && POSTGRES_UNAVAILABLE_MESSAGE.test(message)) return true;
  return error instanceof AggregateError && error.errors.some(isUnavailable);
}

/**
 * What an operation throws when it finds its deadline passed before its next statement: the caller
 * has been answered 503 already, so nothing more may be written.
 */
export function pastDeadline(cause?: unknown): StoreUnavailableError {
  return new StoreUnavailableError("The SQL database did not answer before the call's deadline.", { cause });
}
