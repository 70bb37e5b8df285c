import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { SuiteContext } from './context.js';
import { nowSeconds } from './fixtures.js';

const CONSUME_CALLS = 20;

const singleUseKey = () => randomUUID().replaceAll('-', '').repeat(2);

export function describeConsumeOnce({ freshStore, itGuarantees }: SuiteContext): void {
  describe('single-use keys', () => {
    it('consumeOnce returns true for a new key, then false while it is recorded', async () => {
      const store = await freshStore();
      const key = singleUseKey();
      const now = nowSeconds();

      expect(await store.consumeOnce(key, now + 600, now)).toBe(true);
      expect(await store.consumeOnce(key, now + 600, now)).toBe(false);
      expect(await store.consumeOnce(key, now + 900, now + 599)).toBe(false);
    });

    it('consumeOnce keeps keys apart', async () => {
      const store = await freshStore();
      const now = nowSeconds();
      const first = singleUseKey();

      expect(await store.consumeOnce(first, now + 600, now)).toBe(true);
      expect(await store.consumeOnce(singleUseKey(), now + 600, now)).toBe(true);
      expect(await store.consumeOnce(first.toUpperCase(), now + 600, now)).toBe(true);
    });

    it('consumeOnce records a key anew once now has reached its expiresAt, and then holds it again', async () => {
      const store = await freshStore();
      const key = singleUseKey();
      const now = nowSeconds();

      expect(await store.consumeOnce(key, now + 60, now)).toBe(true);
      expect(await store.consumeOnce(key, now + 660, now + 60)).toBe(true);
      expect(await store.consumeOnce(key, now + 660, now + 61)).toBe(false);
    });

    itGuarantees(
      'concurrentConsumeOnce',
      `${CONSUME_CALLS} parallel consumeOnce calls for one key: exactly one gets true`,
      async () => {
        const store = await freshStore();
        const key = singleUseKey();
        const now = nowSeconds();

        const results = await Promise.all(
          Array.from({ length: CONSUME_CALLS }, () => store.consumeOnce(key, now + 600, now)),
        );

        expect(results.filter(Boolean)).toHaveLength(1);
      },
    );

    itGuarantees(
      'concurrentConsumeOnce',
      `${CONSUME_CALLS} parallel consumeOnce calls for one expired key: exactly one gets true`,
      async () => {
        const store = await freshStore();
        const key = singleUseKey();
        const now = nowSeconds();
        await store.consumeOnce(key, now + 60, now);

        const results = await Promise.all(
          Array.from({ length: CONSUME_CALLS }, () => store.consumeOnce(key, now + 660, now + 60)),
        );

        expect(results.filter(Boolean)).toHaveLength(1);
      },
    );
  });
}
