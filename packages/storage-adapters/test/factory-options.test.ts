import { keyvStore, redisStore, sqlStore, storeFromUrl } from '@rialto-exchange/storage-adapters';
import Keyv from 'keyv';
import { describe, expect, it, onTestFinished } from 'vitest';

// Every factory validates its options with one zod schema through core's option-schema helpers,
// so a typo or a wrong type fails when the store is built, never later as a silently ignored setting.
// None of these stores connects before its first call, so no database is needed to build them.

const keyv = () => new Keyv({ throwOnErrors: true });
const REDIS = { url: 'redis://127.0.0.1:6379' };
const SQLITE = { dialect: 'sqlite', filename: ':memory:' } as const;

function expectRefusal(build: () => unknown, message: string): void {
  expect(build).toThrow(TypeError);
  expect(build).toThrow(new TypeError(message));
}

describe('keyvStore options', () => {
  it('refuses an unknown option and names the closest one', () => {
    expectRefusal(
      () => keyvStore(keyv(), { sharedBetweenProcesses: false, timeotMs: 1_000 } as never),
      'keyvStore: unknown option `timeotMs`; did you mean `timeoutMs`?',
    );
  });

  it('refuses a value of the wrong type, naming the option', () => {
    expectRefusal(
      () => keyvStore(keyv(), { sharedBetweenProcesses: 'yes' } as never),
      'keyvStore: `sharedBetweenProcesses` must be true or false',
    );
    expectRefusal(
      () => keyvStore(keyv(), { sharedBetweenProcesses: false, timeoutMs: Number.POSITIVE_INFINITY }),
      'keyvStore: `timeoutMs` must be a positive number',
    );
  });

  it('refuses options without `sharedBetweenProcesses`, saying why it has no default', () => {
    expectRefusal(
      () => keyvStore(keyv(), { timeoutMs: 1_000 } as never),
      'keyvStore: `sharedBetweenProcesses` is required: say whether other processes use this Keyv backend (writes are serialized within one process only)',
    );
    expectRefusal(() => keyvStore(keyv(), undefined as never), 'keyvStore: options must be an object');
  });

  it('builds a store from valid options', () => {
    const store = keyvStore(keyv(), {
      sharedBetweenProcesses: true,
      acceptDuplicateWebhookDeliveries: true,
      timeoutMs: 1_000,
    });
    expect(typeof store.findOrCreateUser).toBe('function');
  });
});

describe('redisStore options', () => {
  it('refuses an unknown option and names the closest one', () => {
    expectRefusal(
      () => redisStore(REDIS, { keyPrefx: 'exchange:' } as never),
      'redisStore: unknown option `keyPrefx`; did you mean `keyPrefix`?',
    );
  });

  it('refuses a value of the wrong type, naming the option', () => {
    expectRefusal(
      () => redisStore(REDIS, { keyPrefix: 7 } as never),
      'redisStore: `keyPrefix` must be a string',
    );
    expectRefusal(
      () => redisStore(REDIS, { commandTimeoutMs: 0 }),
      'redisStore: `commandTimeoutMs` must be a positive number',
    );
  });
});

describe('sqlStore options', () => {
  it('refuses an unknown option and names the closest one', () => {
    expectRefusal(
      () => sqlStore({ ...SQLITE, tablePrefx: 'exchange_' } as never),
      'sqlStore: unknown option `tablePrefx`; did you mean `tablePrefix`?',
    );
  });

  it('refuses a value of the wrong type, naming the option', () => {
    expectRefusal(
      () => sqlStore({ ...SQLITE, autoMigrate: 'no' } as never),
      'sqlStore: `autoMigrate` must be true or false',
    );
    expectRefusal(
      () => sqlStore({ ...SQLITE, tablePrefix: 'Exchange' }),
      'sqlStore: `tablePrefix` must be lower-case letters, digits and underscores, starting with a letter, at most 30 characters',
    );
    expectRefusal(
      () => sqlStore({ dialect: 'postgres', connectionString: '' }),
      'sqlStore: `connectionString` must be a non-empty string',
    );
  });

  it('refuses an unknown dialect and a dialect without its connection', () => {
    expectRefusal(
      () => sqlStore({ dialect: 'postgresql', connectionString: 'postgres://localhost/test' } as never),
      "sqlStore: `dialect` must be 'postgres', 'mysql' or 'sqlite'",
    );
    expectRefusal(
      () => sqlStore({ dialect: 'sqlite' } as never),
      'sqlStore: options need exactly one of `filename` and `database` for the sqlite dialect',
    );
  });

  it('builds a working store from valid options', async () => {
    const store = sqlStore({
      ...SQLITE,
      tablePrefix: 'factory_',
      autoMigrate: true,
      commandTimeoutMs: 2_000,
    });
    onTestFinished(() => store.close());
    expect(await store.getOrganization('org_missing')).toBeNull();
  });

  // The schema lets an absent way to connect be spelled `undefined` (as a spread of a config object
  // does); the store once took the mere presence of the key as the host's own database or pool.
  it('opens the named connection when the other way to connect is given as undefined', async () => {
    const store = sqlStore({ ...SQLITE, database: undefined } as never);
    onTestFinished(() => store.close());
    expect(await store.getOrganization('org_missing')).toBeNull();
  });
});

describe('storeFromUrl options', () => {
  it('refuses an unknown option and names the closest one', () => {
    expectRefusal(
      () => storeFromUrl('memory:', { tablePrefixes: 'a_' } as never),
      'storeFromUrl: unknown option `tablePrefixes`; did you mean `tablePrefix`?',
    );
  });

  it('refuses a value of the wrong type, naming the option', () => {
    expectRefusal(
      () => storeFromUrl('memory:', { keyPrefix: ['a'] } as never),
      'storeFromUrl: `keyPrefix` must be a string',
    );
  });
});
