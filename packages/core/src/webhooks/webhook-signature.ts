import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { epochSeconds } from '../internal/clock.js';

const SECRET_PREFIX = 'whsec_';
// 32 bytes: the HMAC-SHA256 block-size-safe key length the Standard Webhooks spec recommends.
const SECRET_BYTES = 32;
/** Standard Webhooks' default: a delivery older or newer than this is a replay or a broken clock. */
export const DEFAULT_WEBHOOK_TOLERANCE_SECONDS = 300;

/** The three headers of a Standard Webhooks delivery. */
export interface WebhookHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/** Why `verifyWebhook` refused a delivery; `reason` is for branching, `message` for humans. */
export class WebhookVerificationError extends Error {
  override readonly name = 'WebhookVerificationError';
  constructor(
    readonly reason:
      | 'missing_headers'
      | 'invalid_timestamp'
      | 'timestamp_out_of_tolerance'
      | 'invalid_signature',
    message: string,
  ) {
    super(message);
  }
}

/** A new `whsec_…` signing secret, as shown to a subscriber once. */
export function generateWebhookSecret(): string {
  return SECRET_PREFIX + randomBytes(SECRET_BYTES).toString('base64');
}

/** Signs a delivery: `v1,` + base64 HMAC-SHA256 over `${id}.${timestamp}.${payload}`. */
export function signWebhook(input: {
  id: string;
  timestampSeconds: number;
  payload: string;
  secret: string;
}): WebhookHeaders {
  const signature = hmac(input.secret, `${input.id}.${input.timestampSeconds}.${input.payload}`);
  return {
    'webhook-id': input.id,
    'webhook-timestamp': String(input.timestampSeconds),
    'webhook-signature': `v1,${signature.toString('base64')}`,
  };
}

export interface VerifyWebhookOptions {
  /** Largest accepted difference between the delivery's timestamp and now. @default 300 */
  toleranceSeconds?: number;
  /** The current time in epoch seconds, for tests. @default now */
  nowSeconds?: number;
}

/**
 * Verifies a delivery received from rialto-exchange (or any Standard Webhooks sender) and returns
 * its parsed JSON body. Pass the raw body exactly as received: re-serialized JSON will not match.
 * Deliveries outside the tolerance window are refused, which stops replays of captured requests;
 * for exactly-once handling, also remember the `webhook-id`s you have processed.
 *
 * @throws WebhookVerificationError
 * @example
 * app.post('/webhooks/rialto', express.text({ type: '*\/*' }), (req, res) => {
 *   const event = verifyWebhook(req.body, req.headers, process.env.RIALTO_WEBHOOK_SECRET);
 *   res.sendStatus(204);
 * });
 */
export function verifyWebhook(
  payload: string | Buffer,
  headers: Record<string, string | string[] | undefined>,
  secret: string,
  options: VerifyWebhookOptions = {},
): unknown {
  const id = single(headers['webhook-id']);
  const timestamp = single(headers['webhook-timestamp']);
  const signatures = single(headers['webhook-signature']);
  if (!id || !timestamp || !signatures) {
    throw new WebhookVerificationError(
      'missing_headers',
      'The webhook-id, webhook-timestamp and webhook-signature headers are required.',
    );
  }
  if (!/^\d{1,12}$/.test(timestamp)) {
    throw new WebhookVerificationError(
      'invalid_timestamp',
      'The webhook-timestamp header must be epoch seconds.',
    );
  }
  const now = options.nowSeconds ?? epochSeconds();
  const tolerance = options.toleranceSeconds ?? DEFAULT_WEBHOOK_TOLERANCE_SECONDS;
  if (Math.abs(now - Number(timestamp)) > tolerance) {
    throw new WebhookVerificationError(
      'timestamp_out_of_tolerance',
      'The delivery is outside the tolerance window.',
    );
  }
  const body = typeof payload === 'string' ? payload : payload.toString('utf8');
  const expected = hmac(secret, `${id}.${timestamp}.${body}`);
  const matches = signatures.split(' ').some((candidate) => {
    const [version, value] = candidate.split(',', 2);
    if (version !== 'v1' || !value) return false;
    const given = Buffer.from(value, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
  if (!matches) throw new WebhookVerificationError('invalid_signature', 'No signature matches the secret.');
  return JSON.parse(body);
}

function hmac(secret: string, content: string): Buffer {
  const key = Buffer.from(
    secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret,
    'base64',
  );
  return createHmac('sha256', key).update(content).digest();
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
