import { StoreUnavailableError } from '@rialto-exchange/core';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { apiKey, issuerRegistration, organization } from './fixtures.js';

/** What a call made after `close()` may do: answer as before, or refuse as unavailable. */
async function afterClose<T>(call: Promise<T>, answer: T): Promise<void> {
  const outcome = await call.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if ('error' in outcome) expect(outcome.error).toBeInstanceOf(StoreUnavailableError);
  else expect(outcome.value).toEqual(answer);
}

export function describeMigrateAndClose({ freshStore }: SuiteContext): void {
  describe('migrate and close', () => {
    it('migrate() resolves for several callers at once and again afterwards, and the store then answers', async () => {
      const store = await freshStore();

      await Promise.all([store.migrate(), store.migrate(), store.migrate()]);
      await store.migrate();

      const org = organization();
      expect(await store.createOrganization(org, apiKey(org.orgId), issuerRegistration(org.orgId))).toBe(
        'created',
      );
      await store.migrate();
      expect(await store.getOrganization(org.orgId)).toEqual(org);
    });

    it('close() lets the calls already running finish and resolves again when called again; later calls answer or reject with StoreUnavailableError', async () => {
      const store = await freshStore();
      const org = organization();
      await store.createOrganization(org, apiKey(org.orgId), issuerRegistration(org.orgId));

      const running = store.getOrganization(org.orgId);
      const closed = store.close();
      expect(await running).toEqual(org);
      await closed;
      await store.close();

      await afterClose(store.getOrganization(org.orgId), org);
      await afterClose(store.listActiveApiKeys(organization().orgId), []);
      await afterClose(store.migrate(), undefined);
    });
  });
}
