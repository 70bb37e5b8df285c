import { randomUUID } from 'node:crypto';
import type {
  IssuerRegistrationRecord,
  OrganizationRecord,
  RefreshTokenRecord,
  UserRecord,
  WebhookDeliveryRecord,
  WebhookSubscriptionRecord,
} from '@rialto-exchange/core';
import {
  apiKey,
  identity,
  issuerRegistration,
  nowSeconds,
  organization,
  refreshToken,
  subscription,
} from '../src/conformance/fixtures.js';
import type { RedisAdminClient } from './redis-keys.js';

/** What `writeLayoutV1` stored, to read back through a store of the current layout. */
export interface LayoutV1Data {
  org: OrganizationRecord;
  key: ReturnType<typeof apiKey>;
  registration: IssuerRegistrationRecord;
  login: ReturnType<typeof identity>;
  user: UserRecord;
  used: string;
  live: RefreshTokenRecord;
  revoked: RefreshTokenRecord;
  webhook: WebhookSubscriptionRecord;
  delivery: WebhookDeliveryRecord;
}

/**
 * An organization with an API key, an issuer registration, a user with an identity link and an
 * email entry, a refresh-token family (one used token, one live), a revoked family, and a webhook
 * subscription with a due delivery: each written as the first key layout (one key per record,
 * global webhook queues) stored it, before the cluster-ready layout.
 */
export async function writeLayoutV1(admin: RedisAdminClient, prefix: string): Promise<LayoutV1Data> {
  const now = nowSeconds();
  const org = organization();
  const key = apiKey(org.orgId);
  const registration = issuerRegistration(org.orgId, { clientIds: ['app-v1'] });
  const login = identity(org.orgId, { email: 'v1@example.com' });
  const user: UserRecord = {
    userId: randomUUID(),
    orgId: org.orgId,
    email: login.email,
    role: 'member',
    onboardingCompleted: false,
    kycStatus: 'not_started',
    accreditationStatus: 'not_submitted',
    createdAt: 1_700_000_000,
    updatedAt: 1_700_000_000,
  };
  const used = randomUUID();
  const live = refreshToken({ orgId: org.orgId, userId: user.userId, issuedAt: now - 600 });
  const revoked = refreshToken({ orgId: org.orgId, userId: user.userId });
  const webhook = subscription(org.orgId);
  const delivery: WebhookDeliveryRecord = {
    deliveryId: randomUUID(),
    subscriptionId: webhook.subscriptionId,
    orgId: org.orgId,
    eventId: randomUUID(),
    eventType: 'user.created',
    payload: '{}',
    status: 'pending',
    nextAttemptAt: now - 10,
    leaseToken: null,
    leaseExpiresAt: null,
    attempts: [],
    createdAt: now - 10,
    updatedAt: now - 10,
  };

  const { revokedAt, ...storedKey } = key;
  await admin.hSet(
    `${prefix}org:${org.orgId}`,
    Object.fromEntries(Object.entries(org).map(([field, value]) => [field, JSON.stringify(value)])),
  );
  await admin.hSet(`${prefix}api-keys:${org.orgId}`, key.keyId, JSON.stringify(storedKey));
  await admin.hSet(`${prefix}org-issuers:${org.orgId}`, registration.registrationId, registration.issuer);
  await admin.hSet(
    `${prefix}issuer-regs:${registration.issuer}`,
    registration.registrationId,
    JSON.stringify(registration),
  );
  await admin.set(`${prefix}user:${user.userId}`, JSON.stringify(user));
  await admin.set(`${prefix}identity:${JSON.stringify([org.orgId, login.iss, login.sub])}`, user.userId);
  await admin.set(`${prefix}email:${JSON.stringify([org.orgId, login.email])}`, user.userId);
  await admin.set(`${prefix}refresh:${used}`, JSON.stringify({ successorJti: live.jti }), { EX: 1860 });
  await admin.set(`${prefix}refresh:${live.jti}`, JSON.stringify(live), { EX: 1860 });
  await admin.sAdd(`${prefix}family:${live.familyId}`, [used, live.jti]);
  await admin.set(`${prefix}family-revoked:${revoked.familyId}`, String(now), { EX: 86_400 });
  await admin.hSet(`${prefix}webhook-subs:${org.orgId}`, webhook.subscriptionId, JSON.stringify(webhook));
  await admin.set(`${prefix}webhook-subs-version:${org.orgId}`, '1');
  await admin.set(`${prefix}webhook-delivery:${delivery.deliveryId}`, JSON.stringify(delivery));
  await admin.zAdd(`${prefix}webhook-due`, {
    score: delivery.nextAttemptAt as number,
    value: delivery.deliveryId,
  });
  await admin.zAdd(`${prefix}webhook-sub-deliveries:${webhook.subscriptionId}`, {
    score: delivery.createdAt,
    value: delivery.deliveryId,
  });
  return { org, key, registration, login, user, used, live, revoked, webhook, delivery };
}
