import { describe, expect, it } from 'vitest';
import { storeKit } from '../../index.js';
import type {
  OrganizationRecord,
  SigningKeyRecord,
  WebhookDeliveryRecord,
  WebhookEventRecord,
  WebhookSubscriptionRecord,
} from '../store.js';

const T = 1_700_000_000;

function subscription(overrides: Partial<WebhookSubscriptionRecord>): WebhookSubscriptionRecord {
  return {
    subscriptionId: 'sub-a',
    orgId: 'org-1',
    url: 'https://hooks.example.com/a',
    description: null,
    eventTypes: ['*'],
    secret: 'whsec_a',
    previousSecret: null,
    previousSecretExpiresAt: null,
    disabledAt: null,
    createdAt: T,
    updatedAt: T,
    ...overrides,
  };
}

function event(overrides: Partial<WebhookEventRecord> = {}): WebhookEventRecord {
  return {
    eventId: 'evt-1',
    orgId: 'org-1',
    type: 'user.created',
    payload: '{"n":1}',
    createdAt: T + 5,
    ...overrides,
  };
}

describe('storeKit.webhookDeliveriesFor', () => {
  it("fans each event out to the enabled subscriptions of its org that name its type or '*', pending and due at the event", () => {
    const subscriptions = [
      subscription({ subscriptionId: 'named', eventTypes: ['user.created'] }),
      subscription({ subscriptionId: 'wildcard', eventTypes: ['*'] }),
      subscription({ subscriptionId: 'other-type', eventTypes: ['user.deleted'] }),
      subscription({ subscriptionId: 'disabled', disabledAt: T }),
      subscription({ subscriptionId: 'other-org', orgId: 'org-2' }),
    ];
    let next = 0;
    const deliveries = storeKit.webhookDeliveriesFor(
      [event()],
      (orgId) => subscriptions.filter((record) => record.orgId === orgId),
      () => `delivery-${++next}`,
    );

    expect(deliveries).toEqual(
      ['named', 'wildcard'].map((subscriptionId, index) => ({
        deliveryId: `delivery-${index + 1}`,
        subscriptionId,
        orgId: 'org-1',
        eventId: 'evt-1',
        eventType: 'user.created',
        payload: '{"n":1}',
        status: 'pending',
        nextAttemptAt: T + 5,
        leaseToken: null,
        leaseExpiresAt: null,
        attempts: [],
        createdAt: T + 5,
        updatedAt: T + 5,
      })),
    );
  });

  it('leaves nothing for an event no subscription takes', () => {
    expect(storeKit.webhookDeliveriesFor([event({ type: 'kyc.session.approved' })], () => [])).toEqual([]);
  });
});

describe('storeKit patches', () => {
  const org: OrganizationRecord = {
    orgId: 'org-1',
    name: 'Acme',
    audience: ['identity'],
    provisioning: 'create',
    suspendedAt: T,
    createdAt: T,
    updatedAt: T,
  };

  it('set the defined fields, clear the null ones, keep the undefined ones, and stamp updatedAt', () => {
    const patched = storeKit.applyOrganizationPatch(
      org,
      { name: 'Acme Capital', suspendedAt: null, audience: undefined },
      T + 9,
    );
    expect(patched).toEqual({ ...org, name: 'Acme Capital', suspendedAt: null, updatedAt: T + 9 });
    expect(org.name).toBe('Acme');

    const rotated = storeKit.applyWebhookSubscriptionPatch(
      subscription({}),
      { secret: 'whsec_b', previousSecret: 'whsec_a', previousSecretExpiresAt: T + 60 },
      T + 9,
    );
    expect(rotated).toEqual({
      ...subscription({}),
      secret: 'whsec_b',
      previousSecret: 'whsec_a',
      previousSecretExpiresAt: T + 60,
      updatedAt: T + 9,
    });
  });
});

describe('storeKit ordering', () => {
  it('breaks createdAt ties by id in code-unit order, and newest-first listings are the exact reverse', () => {
    const keys = ['b', 'a', 'C', 'c'].map(
      (kid, index): SigningKeyRecord => ({
        kid,
        use: 'access_token',
        alg: 'ES256',
        privateJwk: {},
        createdAt: index === 0 ? T - 1 : T,
      }),
    );
    // Upper case sorts before lower case by code unit, as under a binary collation.
    expect(storeKit.sortedBy(keys, storeKit.newestSigningKeyFirst).map((key) => key.kid)).toEqual([
      'c',
      'a',
      'C',
      'b',
    ]);
  });

  it('claims the earliest due first, ties by deliveryId', () => {
    const due = (deliveryId: string, nextAttemptAt: number) =>
      ({ deliveryId, nextAttemptAt }) as WebhookDeliveryRecord;
    const order = storeKit.sortedBy(
      [due('b', T), due('z', T - 1), due('a', T)],
      storeKit.earliestDueDeliveryFirst,
    );
    expect(order.map((delivery) => delivery.deliveryId)).toEqual(['z', 'a', 'b']);
  });
});

describe('storeKit legacy defaults', () => {
  it('read organizations and users stored before the newer fields as the releases that added them did', () => {
    const legacyOrg = {
      orgId: 'o',
      name: 'n',
      audience: ['identity'],
      createdAt: T,
      updatedAt: T,
    } as unknown as OrganizationRecord;
    expect(storeKit.withOrganizationDefaults(legacyOrg)).toEqual({
      ...legacyOrg,
      provisioning: 'create',
      suspendedAt: null,
      dpopBoundAccessTokens: false,
    });
    const legacyUser = { userId: 'u' } as Parameters<typeof storeKit.withUserDefaults>[0];
    expect(storeKit.withUserDefaults(legacyUser)).toEqual({ userId: 'u', role: 'member' });
  });
});

describe('storeKit.sameVerification', () => {
  it('is true only when every verification field matches', () => {
    const read = {
      onboardingCompleted: true,
      kycStatus: 'approved',
      accreditationStatus: 'submitted',
    } as const;
    expect(storeKit.sameVerification(read, { ...read })).toBe(true);
    expect(storeKit.sameVerification(read, { ...read, onboardingCompleted: false })).toBe(false);
    expect(storeKit.sameVerification(read, { ...read, kycStatus: 'denied' })).toBe(false);
    expect(storeKit.sameVerification(read, { ...read, accreditationStatus: 'verified' })).toBe(false);
  });
});
