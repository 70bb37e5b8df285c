/**
 * The logging surface the exchange uses; a pino logger fits it as is. Objects come first, as in
 * pino: `logger.error({ err, code }, 'message')`.
 */
export interface Logger {
  debug(object: object, message?: string): void;
  info(object: object, message?: string): void;
  warn(object: object, message?: string): void;
  error(object: object, message?: string): void;
}
