import { describe, expect, it } from 'vitest';
import { createBatcher } from '../src/internal/batcher.js';

describe('createBatcher', () => {
  it('hands the calls of one event-loop turn to one handle(), and settles each caller with it', async () => {
    const calls: number[][] = [];
    const save = createBatcher<number>(async (items) => {
      calls.push([...items]);
      return undefined;
    }, 100);
    await Promise.all([save(1), save(2), save(3)]);
    await save(4);
    expect(calls).toEqual([[1, 2, 3], [4]]);
  });

  it('gives each caller the result at its own position', async () => {
    const double = createBatcher<number, number>(async (items) => items.map((item) => item * 2), 100);
    expect(await Promise.all([double(1), double(5), double(1)])).toEqual([2, 10, 2]);
  });

  it('starts a new batch once one is full', async () => {
    const calls: number[][] = [];
    const save = createBatcher<number>(async (items) => {
      calls.push([...items]);
      return undefined;
    }, 2);
    await Promise.all([1, 2, 3, 4, 5].map(save));
    expect(calls).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('fails every call of a failed batch, and the next batch is unaffected', async () => {
    let fail = true;
    const written: number[] = [];
    const save = createBatcher<number>(async (items) => {
      if (fail) throw new Error('disk full');
      written.push(...items);
      return undefined;
    }, 100);
    const results = await Promise.allSettled([save(1), save(2)]);
    expect(results).toEqual([
      { status: 'rejected', reason: new Error('disk full') },
      { status: 'rejected', reason: new Error('disk full') },
    ]);
    fail = false;
    await save(3);
    expect(written).toEqual([3]);
  });
});
