import { exchange } from './check.js';
import type { LocalIdp } from './idp.js';
import type { BenchOrg } from './protocol.js';

export interface ColdStartResult {
  /** One exchange for an issuer the process has never seen: org lookup, discovery, JWKS, verify, mint. */
  firstExchangeMs: number;
  firstStatus: number;
  /** Median of sequential exchanges for an issuer already cached, for comparison. */
  warmExchangeMs: number;
  /** How many warm exchanges that median is taken over. */
  warmSamples: number;
  herd: {
    requests: number;
    /** Requests answered 200. */
    ok: number;
    /** Milliseconds until the last of the concurrent cold requests was answered. */
    allAnsweredMs: number;
    discoveryFetches: number;
    jwksFetches: number;
  };
  /**
   * Whether the first exchange succeeded and the herd caused exactly one discovery and one JWKS
   * fetch per process at most (each process has its own cache): one for a single process.
   */
  passed: boolean;
  /** Processes serving the target, each with its own cache of the IdP's documents. */
  processes: number;
}

export interface ColdIssuer {
  idp: LocalIdp;
  org: BenchOrg;
  tokens: readonly string[];
}

/**
 * Measures what a never-seen issuer costs: the first exchange alone, then `herd.tokens.length`
 * concurrent first exchanges for another never-seen issuer, counting the fetches its IdP served.
 */
export async function measureColdStart(
  baseUrl: string,
  warm: ColdIssuer,
  first: ColdIssuer,
  herd: ColdIssuer,
  processes = 1,
): Promise<ColdStartResult> {
  const warmTimes: number[] = [];
  for (const token of warm.tokens) {
    const started = performance.now();
    await exchange(baseUrl, warm.org.apiKey, token);
    warmTimes.push(performance.now() - started);
  }
  warmTimes.sort((a, b) => a - b);

  const firstStarted = performance.now();
  const firstReply = await exchange(baseUrl, first.org.apiKey, first.tokens[0] as string);
  const firstExchangeMs = performance.now() - firstStarted;

  const herdStarted = performance.now();
  const replies = await Promise.all(herd.tokens.map((token) => exchange(baseUrl, herd.org.apiKey, token)));
  const allAnsweredMs = performance.now() - herdStarted;
  const ok = replies.filter((reply) => reply.status === 200).length;
  const { discovery, jwks } = herd.idp.counts;

  return {
    firstExchangeMs,
    firstStatus: firstReply.status,
    warmExchangeMs: warmTimes[Math.floor(warmTimes.length / 2)] ?? Number.NaN,
    warmSamples: warmTimes.length,
    herd: {
      requests: replies.length,
      ok,
      allAnsweredMs,
      discoveryFetches: discovery,
      jwksFetches: jwks,
    },
    processes,
    passed:
      firstReply.status === 200 &&
      first.idp.counts.discovery === 1 &&
      first.idp.counts.jwks === 1 &&
      ok === replies.length &&
      discovery >= 1 &&
      discovery <= processes &&
      jwks >= 1 &&
      jwks <= processes,
  };
}
