import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../errors.js';
import { storeKit } from '../../index.js';

const TIMEOUT_MS = 30;

class OutageError extends Error {}
const isUnavailable = (error: unknown) => error instanceof OutageError;
const never = () => new Promise<never>(() => {});

function runner(overrides: Partial<Parameters<typeof storeKit.createStoreRunner>[0]> = {}) {
  return storeKit.createStoreRunner({
    backend: 'TestDB',
    timeoutMs: TIMEOUT_MS,
    isUnavailable,
    ...overrides,
  });
}

describe('storeKit.createStoreRunner', () => {
  it('answers what the operation answers, and gives it a deadline timeoutMs ahead on the monotonic clock', async () => {
    const before = performance.now();
    let deadlineAt = 0;
    const answer = await runner().run(async (given) => {
      deadlineAt = given;
      return 'answer';
    });
    expect(answer).toBe('answer');
    expect(deadlineAt).toBeGreaterThanOrEqual(before + TIMEOUT_MS);
    expect(deadlineAt).toBeLessThanOrEqual(performance.now() + TIMEOUT_MS);
  });

  it('turns an error the classifier calls an outage into StoreUnavailableError, and rethrows any other as it is', async () => {
    const outage = new OutageError('connection reset');
    const failed = await runner()
      .run(() => Promise.reject(outage))
      .catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(StoreUnavailableError);
    expect((failed as Error).message).toBe('TestDB is unreachable or failed mid-operation.');
    expect((failed as Error).cause).toBe(outage);

    const bug = new TypeError('undefined is not a function');
    await expect(runner().run(() => Promise.reject(bug))).rejects.toBe(bug);
    const thrownSynchronously = new RangeError('bad');
    await expect(
      runner().run(() => {
        throw thrownSynchronously;
      }),
    ).rejects.toBe(thrownSynchronously);
    const unavailable = new StoreUnavailableError('already mapped');
    await expect(runner().run(() => Promise.reject(unavailable))).rejects.toBe(unavailable);
  });

  it('rejects with StoreUnavailableError once the deadline has passed, and ignores the late outcome', async () => {
    let finish: (value: string) => void = () => {};
    let deadlineAt = 0;
    const pending = runner().run(
      (given) =>
        new Promise<string>((resolve) => {
          deadlineAt = given;
          finish = resolve;
        }),
    );
    await expect(pending).rejects.toThrow(new StoreUnavailableError('TestDB did not answer within 30 ms.'));
    // Never before the deadline the operation was given.
    expect(performance.now()).toBeGreaterThanOrEqual(deadlineAt);
    finish('too late');
    await expect(pending).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('makes operations wait for migrate, fails them as unavailable when it fails, and runs it again for the next', async () => {
    let migrations = 0;
    let isMigrated = false;
    const gated = runner({
      async migrate() {
        migrations++;
        await sleep(5);
        if (migrations === 1) throw new OutageError('refused');
        isMigrated = true;
      },
    });
    const first = await Promise.allSettled([
      gated.run(async () => isMigrated),
      gated.run(async () => isMigrated),
    ]);
    expect(first.map((outcome) => outcome.status === 'rejected' && outcome.reason)).toEqual([
      expect.any(StoreUnavailableError),
      expect.any(StoreUnavailableError),
    ]);
    expect(migrations).toBe(1);

    expect(await Promise.all([gated.run(async () => isMigrated), gated.migrate(), gated.migrate()])).toEqual([
      true,
      undefined,
      undefined,
    ]);
    await gated.migrate();
    expect(migrations).toBe(2);
  });

  it('does not wait for migrate with migrateBeforeFirstCall false, and still runs it when asked', async () => {
    let migrations = 0;
    const ungated = runner({
      migrate: async () => {
        migrations++;
      },
      migrateBeforeFirstCall: false,
    });
    expect(await ungated.run(async () => migrations)).toBe(0);
    await ungated.migrate();
    expect(migrations).toBe(1);
  });

  it('on close, lets running operations settle, releases once, and refuses every later call', async () => {
    let releases = 0;
    const closable = runner({
      release: async () => {
        releases++;
      },
    });
    let finish: (value: string) => void = () => {};
    const running = closable.run(() => new Promise<string>((resolve) => (finish = resolve)));
    const closed = Promise.all([closable.close(), closable.close()]);
    await sleep(1);
    expect(releases).toBe(0);
    finish('done');
    expect(await running).toBe('done');
    await closed;
    await closable.close();
    expect(releases).toBe(1);

    await expect(closable.run(async () => 'late')).rejects.toThrow(
      new StoreUnavailableError('The store was closed; it takes no more calls.'),
    );
    await expect(closable.migrate()).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it("without release (the backend is the host's), keeps answering after close", async () => {
    const borrowed = runner();
    await borrowed.close();
    expect(await borrowed.run(async () => 'still here')).toBe('still here');
  });

  it('with failFastMs, fails calls at once after an outage, then lets one call at a time probe', async () => {
    const failing = runner({ failFastMs: 40 });
    let calls = 0;
    const counted =
      <T>(operation: () => Promise<T>) =>
      () => {
        calls++;
        return operation();
      };
    await expect(failing.run(counted(never))).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(failing.run(counted(async () => 'ok'))).rejects.toThrow(
      'TestDB failed moments ago; not asking it again yet.',
    );
    expect(calls).toBe(1);

    await sleep(50);
    let finishProbe: (value: string) => void = () => {};
    const probe = failing.run(counted(() => new Promise<string>((resolve) => (finishProbe = resolve))));
    await expect(failing.run(counted(async () => 'ok'))).rejects.toBeInstanceOf(StoreUnavailableError);
    finishProbe('back');
    expect(await probe).toBe('back');
    expect(await failing.run(counted(async () => 'ok'))).toBe('ok');
    expect(calls).toBe(3);
  });
});
