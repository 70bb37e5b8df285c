import { describe, expect, it } from 'vitest';
import { createWriteBatcher } from '../src/internal/write-batcher.js';

describe('createWriteBatcher', () => {
  it('hands the writes of one event-loop turn to one call, and settles each caller with it', async () => {
    const calls: number[][] = [];
    const save = createWriteBatcher<number>(async (items) => {
      calls.push([...items]);
    }, 100);
    await Promise.all([save(1), save(2), save(3)]);
    await save(4);
    expect(calls).toEqual([[1, 2, 3], [4]]);
  });

  it('starts a new batch once one is full', async () => {
    const calls: number[][] = [];
    const save = createWriteBatcher<number>(async (items) => {
      calls.push([...items]);
    }, 2);
    await Promise.all([1, 2, 3, 4, 5].map(save));
    expect(calls).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('fails every write of a failed batch, and the next batch is unaffected', async () => {
    let fail = true;
    const written: number[] = [];
    const save = createWriteBatcher<number>(async (items) => {
      if (fail) throw new Error('disk full');
      written.push(...items);
    }, 100);
    const results = await Promise.allSettled([save(1), save(2)]);
    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    await save(3);
    expect(written).toEqual([3]);
  });
});
