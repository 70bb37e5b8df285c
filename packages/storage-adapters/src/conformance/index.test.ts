import { describe, expect, it } from 'vitest';
import { memoryStore } from '../memory/memory-store.js';
import { runStoreConformance } from './index.js';

const makeStore = () => ({ store: memoryStore() });

describe('runStoreConformance', () => {
  it('rejects a skipped guarantee it does not know, so a typo cannot silently run or skip cases', () => {
    expect(() =>
      runStoreConformance('typo', makeStore, { skip: { concurrentConsumption: 'x' } as never }),
    ).toThrow(/unknown guarantee\(s\) in `skip`: concurrentConsumption/);
  });

  it('rejects a skip without a reason', () => {
    expect(() => runStoreConformance('silent', makeStore, { skip: { concurrentRotate: ' ' } })).toThrow(
      /`skip.concurrentRotate` must say why/,
    );
  });
});
