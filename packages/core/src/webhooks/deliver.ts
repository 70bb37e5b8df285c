import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { AddressRefusedError } from '../internal/address-policy.js';
import {
  type DestinationPolicy,
  DestinationRefusedError,
  parseDestination,
  publicOnlyLookup,
} from './destination-policy.js';
import type { WebhookHeaders } from './webhook-signature.js';

/** Only this much of a receiver's answer is kept: enough to debug, too little to store their data. */
export const MAX_RESPONSE_EXCERPT_BYTES = 256;

export interface WebhookPost {
  url: string;
  headers: WebhookHeaders;
  payload: string;
  timeoutMs: number;
  policy: DestinationPolicy;
}

/** What one POST to a receiver observed. */
export interface WebhookPostResult {
  /** The HTTP status, or `null` when no response arrived. */
  responseStatus: number | null;
  /** Why no response arrived (timeout, refused destination, connection error), or `null`. */
  error: string | null;
  responseExcerpt: string | null;
  durationMs: number;
}

/**
 * POSTs a signed payload once. Never throws: every failure is reported in the result.
 *
 * SSRF defences: the URL is re-checked (a literal IP never goes through DNS), hostnames are
 * resolved by `publicOnlyLookup` at connect time so a DNS answer that changed since registration
 * cannot reach internal addresses, and redirects are not followed (a 3xx is just a failed attempt).
 * The deadline covers the whole exchange, so a receiver that trickles bytes cannot hold the worker.
 */
export function postWebhook(post: WebhookPost): Promise<WebhookPostResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  let url: URL;
  try {
    url = parseDestination(post.url, post.policy);
  } catch (error) {
    return Promise.resolve({
      responseStatus: null,
      error: failureReason(error),
      responseExcerpt: null,
      durationMs: 0,
    });
  }
  const body = Buffer.from(post.payload);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;

  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: Omit<WebhookPostResult, 'durationMs'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve({ ...result, durationMs: elapsed() });
    };
    const req = send(url, {
      method: 'POST',
      // A fresh connection per attempt: a pooled socket would skip the connect-time address check.
      agent: false,
      lookup: publicOnlyLookup(post.policy),
      headers: {
        'content-type': 'application/json',
        'content-length': String(body.length),
        'user-agent': 'rialto-exchange-webhooks/1',
        ...post.headers,
      },
    });
    const timer = setTimeout(
      () =>
        finish({
          responseStatus: null,
          error: `timed out after ${post.timeoutMs} ms`,
          responseExcerpt: null,
        }),
      post.timeoutMs,
    );
    req.on('error', (error) =>
      finish({ responseStatus: null, error: failureReason(error), responseExcerpt: null }),
    );
    req.on('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const done = () =>
        finish({
          responseStatus: res.statusCode ?? null,
          error: null,
          responseExcerpt:
            size === 0
              ? null
              : Buffer.concat(chunks).subarray(0, MAX_RESPONSE_EXCERPT_BYTES).toString('utf8'),
        });
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        size += chunk.length;
        if (size >= MAX_RESPONSE_EXCERPT_BYTES) done();
      });
      res.on('end', done);
      res.on('error', done);
    });
    req.end(body);
  });
}

function failureReason(error: unknown): string {
  if (error instanceof DestinationRefusedError) return `destination refused: ${error.message}`;
  if (error instanceof AddressRefusedError) return `destination refused: ${error.message}`;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return `connection failed: ${code}`;
  return 'connection failed';
}
