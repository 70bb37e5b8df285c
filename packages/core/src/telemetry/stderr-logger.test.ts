import { describe, expect, it } from 'vitest';
import { createStderrLogger } from './stderr-logger.js';

describe('createStderrLogger', () => {
  it('prints an error with its causes once per distinct cause, and no other field of the object', () => {
    const lines: string[] = [];
    const logger = createStderrLogger({ write: (line) => void lines.push(line) });
    const cause = Object.assign(new Error('unable to open database file'), { code: 'SQLITE_CANTOPEN' });
    const failure = new Error('store failed', { cause });

    for (let i = 0; i < 3; i++) {
      logger.error({ err: failure, code: 'server_error', token: 'eyJ.secret.token' }, 'request failed');
    }
    logger.error({ err: new Error('another cause'), code: 'server_error' }, 'request failed');
    logger.info({ err: failure }, 'not printed by default');

    expect(lines).toEqual([
      'rialto-exchange error: request failed (server_error): Error: store failed <- caused by Error SQLITE_CANTOPEN: unable to open database file\n',
      'rialto-exchange error: request failed (server_error): Error: another cause\n',
    ]);
  });

  it('prints warnings, such as an identity provider that cannot be reached', () => {
    const lines: string[] = [];
    createStderrLogger({ write: (line) => void lines.push(line) }).warn(
      { err: new TypeError('fetch failed'), code: 'discovery_failed' },
      'identity provider unreachable',
    );
    expect(lines).toEqual([
      'rialto-exchange warn: identity provider unreachable (discovery_failed): TypeError: fetch failed\n',
    ]);
  });
});
