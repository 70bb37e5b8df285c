import type { Logger } from './logger.js';

// Once per distinct cause per minute: an outage answered 1,000 times a second prints one line a minute.
const REPEAT_INTERVAL_MS = 60_000;
// Distinct causes remembered; past this the oldest is forgotten (and may print again).
const MAX_REMEMBERED_CAUSES = 1_000;
// Nested causes printed: enough to reach a driver error under a store error.
const MAX_CAUSE_DEPTH = 4;

export interface StderrLoggerOptions {
  /** Where lines go. @default process.stderr */
  write?: (line: string) => void;
}

/**
 * The logger used when the host passes none: warnings and errors go to stderr, one line each,
 * once per distinct cause per minute, so a misconfigured store is visible without flooding.
 * A line holds the message, the error code and the names and messages of the error and its
 * causes; never stacks or other fields of the logged object, so no token, key or secret a
 * caller put beside the error can reach the output.
 */
export function createStderrLogger(options: StderrLoggerOptions = {}): Logger {
  const write = options.write ?? ((line: string) => void process.stderr.write(line));
  const lastPrintedAtMs = new Map<string, number>();

  function print(level: 'warn' | 'error', object: object, message = ''): void {
    const { err, code } = object as { err?: unknown; code?: unknown };
    const line = [
      `rialto-exchange ${level}: ${message}`,
      typeof code === 'string' ? ` (${code})` : '',
      describe(err),
    ].join('');
    const now = Date.now();
    const last = lastPrintedAtMs.get(line);
    if (last !== undefined && now - last < REPEAT_INTERVAL_MS) return;
    lastPrintedAtMs.delete(line);
    lastPrintedAtMs.set(line, now);
    if (lastPrintedAtMs.size > MAX_REMEMBERED_CAUSES) {
      lastPrintedAtMs.delete(lastPrintedAtMs.keys().next().value as string);
    }
    write(`${line}\n`);
  }

  return {
    debug() {},
    info() {},
    warn: (object, message) => print('warn', object, message),
    error: (object, message) => print('error', object, message),
  };
}

function describe(error: unknown): string {
  const parts: string[] = [];
  let current = error;
  for (let depth = 0; current !== undefined && current !== null && depth < MAX_CAUSE_DEPTH; depth++) {
    if (current instanceof Error) {
      const code = (current as { code?: unknown }).code;
      parts.push(`${current.name}${typeof code === 'string' ? ` ${code}` : ''}: ${current.message}`);
      current = current.cause;
    } else {
      parts.push(String(current));
      break;
    }
  }
  return parts.length === 0 ? '' : `: ${parts.join(' <- caused by ')}`;
}
