import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sqlStore } from '@rialto-exchange/storage-adapters';
import { runStoreConformance } from '@rialto-exchange/storage-adapters/conformance';
import { uniqueTablePrefix } from './sql-tables.js';

runStoreConformance('sqlStore (SQLite)', () => {
  const filename = join(tmpdir(), `rialto-conformance-${uniqueTablePrefix()}.db`);
  const store = sqlStore({ dialect: 'sqlite', filename });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await Promise.all(['', '-wal', '-shm'].map((suffix) => rm(`${filename}${suffix}`, { force: true })));
    },
  };
});
