import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import {
  generateWebhookSecret,
  signWebhook,
  verifyWebhook,
  WebhookVerificationError,
} from './webhook-signature.js';

const payload = JSON.stringify({ type: 'kyc.session.approved', data: { user_id: 'u1' } });
const now = Math.floor(Date.now() / 1000);

function reasonOf(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(WebhookVerificationError);
    return (error as WebhookVerificationError).reason;
  }
}

describe('webhook signatures', () => {
  it('generates whsec_ secrets of 32 random bytes', () => {
    const secret = generateWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(secret.slice(6), 'base64')).toHaveLength(32);
    expect(generateWebhookSecret()).not.toBe(secret);
  });

  it('produces signatures the standardwebhooks library accepts', () => {
    const secret = generateWebhookSecret();
    const headers = signWebhook({ id: 'msg_1', timestampSeconds: now, payload, secret });
    expect(new Webhook(secret).verify(payload, { ...headers })).toEqual(JSON.parse(payload));
  });

  it('accepts signatures made by the standardwebhooks library', () => {
    const secret = generateWebhookSecret();
    const signature = new Webhook(secret).sign('msg_2', new Date(now * 1000), payload);
    const headers = {
      'webhook-id': 'msg_2',
      'webhook-timestamp': String(now),
      'webhook-signature': signature,
    };
    expect(verifyWebhook(payload, headers, secret)).toEqual(JSON.parse(payload));
  });

  it('accepts any one matching signature among several (secret rotation)', () => {
    const [oldSecret, newSecret] = [generateWebhookSecret(), generateWebhookSecret()];
    const signedOld = signWebhook({ id: 'm', timestampSeconds: now, payload, secret: oldSecret });
    const signedNew = signWebhook({ id: 'm', timestampSeconds: now, payload, secret: newSecret });
    const headers = {
      ...signedNew,
      'webhook-signature': `${signedOld['webhook-signature']} ${signedNew['webhook-signature']}`,
    };
    expect(verifyWebhook(payload, headers, oldSecret)).toEqual(JSON.parse(payload));
    expect(verifyWebhook(payload, headers, newSecret)).toEqual(JSON.parse(payload));
  });

  it.each([
    ['a tampered body', (h: Record<string, string>) => [payload.replace('u1', 'u2'), h]],
    ['another message id', (h: Record<string, string>) => [payload, { ...h, 'webhook-id': 'msg_other' }]],
    [
      'a signature of another version',
      (h: Record<string, string>) => [
        payload,
        { ...h, 'webhook-signature': h['webhook-signature']?.replace('v1,', 'v2,') },
      ],
    ],
    ['garbage signature', (h: Record<string, string>) => [payload, { ...h, 'webhook-signature': 'v1,AAAA' }]],
  ] as const)('refuses %s as invalid_signature', (_, mutate) => {
    const secret = generateWebhookSecret();
    const [body, headers] = mutate({
      ...signWebhook({ id: 'msg_1', timestampSeconds: now, payload, secret }),
    });
    expect(reasonOf(() => verifyWebhook(body as string, headers as Record<string, string>, secret))).toBe(
      'invalid_signature',
    );
  });

  it('refuses a delivery signed with another secret', () => {
    const headers = signWebhook({ id: 'm', timestampSeconds: now, payload, secret: generateWebhookSecret() });
    expect(reasonOf(() => verifyWebhook(payload, { ...headers }, generateWebhookSecret()))).toBe(
      'invalid_signature',
    );
  });

  it('refuses replays outside the tolerance window, in either direction', () => {
    const secret = generateWebhookSecret();
    const old = signWebhook({ id: 'm', timestampSeconds: now - 301, payload, secret });
    const future = signWebhook({ id: 'm', timestampSeconds: now + 301, payload, secret });
    expect(reasonOf(() => verifyWebhook(payload, { ...old }, secret, { nowSeconds: now }))).toBe(
      'timestamp_out_of_tolerance',
    );
    expect(reasonOf(() => verifyWebhook(payload, { ...future }, secret, { nowSeconds: now }))).toBe(
      'timestamp_out_of_tolerance',
    );
    expect(verifyWebhook(payload, { ...old }, secret, { nowSeconds: now, toleranceSeconds: 600 })).toEqual(
      JSON.parse(payload),
    );
  });

  it('refuses missing headers and malformed timestamps', () => {
    const secret = generateWebhookSecret();
    const headers = signWebhook({ id: 'm', timestampSeconds: now, payload, secret });
    expect(reasonOf(() => verifyWebhook(payload, { ...headers, 'webhook-id': undefined }, secret))).toBe(
      'missing_headers',
    );
    expect(reasonOf(() => verifyWebhook(payload, { ...headers, 'webhook-timestamp': '1e9' }, secret))).toBe(
      'invalid_timestamp',
    );
  });
});
