import { afterEach, describe, expect, it, vi } from 'vitest';
import { errorBody, RialtoError } from '../errors.js';
import {
  createPolicyHookRunner,
  type ExchangePolicyHook,
  type ExchangePolicyHookInput,
} from './policy-hook.js';

const INPUT: Omit<ExchangePolicyHookInput, 'signal'> = {
  claims: { sub: 'u-1', hd: 'partner.example' },
  org: { id: 'org-1', name: 'Partner' },
  issuer: 'https://idp.partner.example',
  user: null,
  dryRun: false,
};

async function failure(promise: Promise<unknown>) {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(RialtoError);
    const rialtoError = error as RialtoError;
    return {
      status: rialtoError.status,
      body: errorBody(rialtoError),
      headers: rialtoError.headers,
      error: rialtoError,
    };
  }
  throw new Error('expected the hook run to fail');
}

afterEach(() => {
  vi.useRealTimers();
});

describe('createPolicyHookRunner', () => {
  it('gives the hook the claims, org, issuer, user and dry-run flag', async () => {
    const hook = vi.fn<ExchangePolicyHook>(() => undefined);
    await createPolicyHookRunner(hook)({ ...INPUT, dryRun: true }, {});
    expect(hook).toHaveBeenCalledWith({ ...INPUT, dryRun: true, signal: expect.any(AbortSignal) });
  });

  it('allows with the mapped claims when the hook returns nothing', async () => {
    const runHook = createPolicyHookRunner(async () => {});
    expect(await runHook(INPUT, { department: 'R&D' })).toEqual({
      status: 'allowed',
      claims: { department: 'R&D' },
    });
  });

  it('adds the claims the hook returns, replacing a mapped claim of the same name', async () => {
    const runHook = createPolicyHookRunner(async () => ({ claims: { tier: 'gold', department: 'Sales' } }));
    expect(await runHook(INPUT, { department: 'R&D', level: 2 })).toEqual({
      status: 'allowed',
      claims: { department: 'Sales', level: 2, tier: 'gold' },
    });
  });

  it('denies with the hook reason', async () => {
    const runHook = createPolicyHookRunner(() => ({
      deny: 'This account is blocked by the partner program.',
    }));
    expect(await runHook(INPUT, { department: 'R&D' })).toEqual({
      status: 'denied',
      reason: 'This account is blocked by the partner program.',
    });
  });

  it('answers 503 when the hook misses its deadline, and aborts its signal', async () => {
    vi.useFakeTimers();
    let signal: AbortSignal | undefined;
    const runHook = createPolicyHookRunner(
      (input) => {
        signal = input.signal;
        return new Promise(() => {});
      },
      { timeoutMs: 1500 },
    );
    const run = failure(runHook(INPUT, {}));
    await vi.advanceTimersByTimeAsync(1499);
    expect(signal?.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const { status, body, headers, error } = await run;
    expect(status).toBe(503);
    expect(body).toEqual({
      error: 'temporarily_unavailable',
      error_description: 'The exchange policy did not answer in time. Retry later.',
    });
    expect(headers).toEqual({ 'retry-after': '1' });
    expect(signal?.aborted).toBe(true);
    expect((error.cause as Error).message).toBe('The exchange policy hook did not settle within 1500 ms.');
  });

  it('leaves no unhandled rejection when a hook fails after its deadline', async () => {
    vi.useFakeTimers();
    const runHook = createPolicyHookRunner(
      () => new Promise((_, reject) => setTimeout(() => reject(new Error('late')), 5000)),
      { timeoutMs: 1000 },
    );
    const run = failure(runHook(INPUT, {}));
    await vi.advanceTimersByTimeAsync(1000);
    expect((await run).status).toBe(503);
    // Vitest fails the file on an unhandled rejection; the race keeps a handler on the hook's promise.
    await vi.advanceTimersByTimeAsync(5000);
  });

  it('answers 500 without the cause when the hook rejects, keeping the cause for the log', async () => {
    const cause = new Error('connect ECONNREFUSED 10.0.0.5:5432 password=hunter2');
    const { status, body, error } = await failure(
      createPolicyHookRunner(async () => {
        throw cause;
      })(INPUT, {}),
    );
    expect(status).toBe(500);
    expect(body).toEqual({ error: 'server_error', error_description: 'An unexpected error occurred.' });
    expect(error.cause).toBe(cause);
  });

  it('answers 500 when the hook rejects with nothing', async () => {
    const { status, error } = await failure(
      createPolicyHookRunner(() => Promise.reject(undefined))(INPUT, {}),
    );
    expect(status).toBe(500);
    expect(error.cause).toBeUndefined();
  });

  it('answers 500 when the hook throws synchronously', async () => {
    const cause = new TypeError('boom');
    const { status, error } = await failure(
      createPolicyHookRunner(() => {
        throw cause;
      })(INPUT, {}),
    );
    expect(status).toBe(500);
    expect(error.cause).toBe(cause);
  });

  it.each([
    [
      'a reserved claim',
      { claims: { email: 'x@evil.example' } },
      'the claim email is a claim the exchange sets itself',
    ],
    [
      'an invisible character in a claim name',
      { claims: { 'ti\u200Ber': 1 } },
      'a claim name must consist of letters, digits, punctuation and symbols, without spaces, control or invisible format characters',
    ],
    [
      'a value JSON cannot hold',
      { claims: { at: new Date(0) } },
      'the claim at is not JSON: it is a timestamp, which JSON cannot hold',
    ],
    [
      'claims past 4 KiB',
      { claims: { blob: 'x'.repeat(4090) } },
      'the custom claims would exceed 4096 bytes of JSON',
    ],
    ['an empty deny reason', { deny: ' ' }, 'deny must be a non-empty reason of at most 200 characters'],
    [
      'an overlong deny reason',
      { deny: 'x'.repeat(201) },
      'deny must be a non-empty reason of at most 200 characters',
    ],
    [
      'a deny reason with U+202E',
      { deny: 'blocked\u202E' },
      'deny must not contain control or invisible format characters',
    ],
    [
      'claims that are not an object',
      { claims: ['x'] },
      'claims must be an object of claim name to JSON value',
    ],
  ])('answers 500 when the hook returns %s', async (_, result, what) => {
    const runHook = createPolicyHookRunner(() => result as never);
    const { status, body, error } = await failure(runHook(INPUT, {}));
    expect(status).toBe(500);
    expect(body).toEqual({ error: 'server_error', error_description: 'An unexpected error occurred.' });
    expect((error.cause as Error).message).toBe(
      `The exchange policy hook returned what the exchange cannot use: ${what}.`,
    );
  });

  it.each([0, -1, 1.5, Number.NaN])('refuses timeoutMs %s at once', (timeoutMs) => {
    expect(() => createPolicyHookRunner(() => undefined, { timeoutMs })).toThrow(
      new TypeError('policyHook: `timeoutMs` must be a positive integer of milliseconds'),
    );
  });
});
