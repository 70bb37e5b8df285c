import { randomUUID } from 'node:crypto';
import type {
  ApiKeyRecord,
  FindOrCreateUserInput,
  IssuerRegistrationRecord,
  OrganizationRecord,
  RefreshTokenRecord,
  SigningKeyRecord,
  SigningKeyUse,
  UserRecord,
  WebhookDeliveryRecord,
  WebhookEventRecord,
  WebhookSubscriptionRecord,
} from '@rialto-exchange/core';

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

export function organization(overrides: Partial<OrganizationRecord> = {}): OrganizationRecord {
  const orgId = overrides.orgId ?? randomUUID();
  return {
    orgId,
    name: `Org ${orgId.slice(0, 8)}`,
    audience: ['identity', 'primary-issuance'],
    provisioning: 'create',
    suspendedAt: null,
    dpopBoundAccessTokens: false,
    createdAt: 1_700_000_000,
    updatedAt: 1_700_000_000,
    ...overrides,
  };
}

/** A registration of an issuer of its own (no client ids) unless `overrides` say otherwise. */
export function issuerRegistration(
  orgId: string,
  overrides: Partial<IssuerRegistrationRecord> = {},
): IssuerRegistrationRecord {
  const registrationId = overrides.registrationId ?? randomUUID();
  return {
    registrationId,
    orgId,
    issuer: `https://idp-${registrationId}.example.com`,
    clientIds: [],
    allowedAlgorithms: ['RS256', 'ES256'],
    emailLinking: 'verified',
    subjectClaim: 'sub',
    trustUsernameClaims: false,
    createdAt: 1_700_000_000,
    updatedAt: 1_700_000_000,
    ...overrides,
  };
}

export function apiKey(orgId: string, overrides: Partial<ApiKeyRecord> = {}): ApiKeyRecord {
  return {
    keyId: randomUUID(),
    orgId,
    hash: randomUUID().replaceAll('-', '').repeat(2),
    createdAt: 1_700_000_000,
    revokedAt: null,
    ...overrides,
  };
}

export function identity(
  orgId: string,
  overrides: Partial<FindOrCreateUserInput> = {},
): FindOrCreateUserInput {
  const input = {
    orgId,
    iss: 'https://idp.example.com',
    sub: `sub-${randomUUID()}`,
    email: 'ada@example.com',
    mayLinkByEmail: true,
    now: 1_700_000_000,
    ...overrides,
  };
  return { ...input, newUser: overrides.newUser ?? newUserFor(input) };
}

/** The user core builds for a first exchange, as `provisionUser` does. */
export function newUserFor({ orgId, email, now }: { orgId: string; email: string; now: number }): UserRecord {
  return {
    userId: randomUUID(),
    orgId,
    email,
    role: 'member',
    onboardingCompleted: false,
    kycStatus: 'not_started',
    accreditationStatus: 'not_submitted',
    createdAt: now,
    updatedAt: now,
  };
}

/** The same exchange offering another new user, as each of several concurrent exchanges does. */
export function withAnotherNewUser(input: FindOrCreateUserInput): FindOrCreateUserInput {
  return { ...input, newUser: { ...input.newUser, userId: randomUUID() } };
}

/** A token valid for half an hour of wall-clock time, so stores that expire keys by TTL keep it. */
export function refreshToken(overrides: Partial<RefreshTokenRecord> = {}): RefreshTokenRecord {
  const now = nowSeconds();
  return {
    jti: randomUUID(),
    familyId: randomUUID(),
    orgId: randomUUID(),
    userId: randomUUID(),
    issuedAt: now,
    expiresAt: now + 1800,
    kid: randomUUID(),
    ...overrides,
  };
}

/** The token core would rotate `previous` into at `now`: same family, org and user. */
export function successorOf(previous: RefreshTokenRecord, now = nowSeconds()): RefreshTokenRecord {
  const { familyId, orgId, userId } = previous;
  return refreshToken({ familyId, orgId, userId, issuedAt: now, expiresAt: now + 1800 });
}

export function signingKey(use: SigningKeyUse, overrides: Partial<SigningKeyRecord> = {}): SigningKeyRecord {
  const kid = overrides.kid ?? randomUUID();
  return {
    kid,
    use,
    alg: use === 'access_token' ? 'ES256' : 'HS256',
    privateJwk:
      use === 'access_token'
        ? { kty: 'EC', crv: 'P-256', x: `x-${kid}`, y: `y-${kid}`, d: `d-${kid}` }
        : { kty: 'oct', k: `k-${kid}` },
    createdAt: 1_700_000_000,
    ...overrides,
  };
}

export function subscription(
  orgId: string,
  overrides: Partial<WebhookSubscriptionRecord> = {},
): WebhookSubscriptionRecord {
  const subscriptionId = overrides.subscriptionId ?? randomUUID();
  return {
    subscriptionId,
    orgId,
    url: `https://hooks.example.com/${subscriptionId}`,
    description: null,
    eventTypes: ['*'],
    secret: `whsec_${Buffer.from(subscriptionId).toString('base64')}`,
    previousSecret: null,
    previousSecretExpiresAt: null,
    disabledAt: null,
    createdAt: 1_700_000_000,
    updatedAt: 1_700_000_000,
    ...overrides,
  };
}

/** An event created now (wall clock), so stores that expire old deliveries keep it. */
export function webhookEvent(
  orgId: string,
  type: string,
  overrides: Partial<WebhookEventRecord> = {},
): WebhookEventRecord {
  const eventId = overrides.eventId ?? randomUUID();
  const createdAt = overrides.createdAt ?? nowSeconds();
  return {
    eventId,
    orgId,
    type,
    payload: JSON.stringify({ id: eventId, type, org_id: orgId, data: { n: 1 } }),
    createdAt,
    ...overrides,
  };
}

/** A pending delivery to `hook`, due and created now (wall clock), held by no worker. */
export function delivery(
  hook: WebhookSubscriptionRecord,
  overrides: Partial<WebhookDeliveryRecord> = {},
): WebhookDeliveryRecord {
  const event = webhookEvent(hook.orgId, 'user.created');
  return {
    deliveryId: randomUUID(),
    subscriptionId: hook.subscriptionId,
    orgId: hook.orgId,
    eventId: event.eventId,
    eventType: event.type,
    payload: event.payload,
    status: 'pending',
    nextAttemptAt: event.createdAt,
    leaseToken: null,
    leaseExpiresAt: null,
    attempts: [],
    createdAt: event.createdAt,
    updatedAt: event.createdAt,
    ...overrides,
  };
}

/**
 * `count` UUIDs and the order a listing that breaks ties by id ascending puts them in. Callers
 * store records in the reverse order, so a store that lists in insertion order fails.
 */
export function tiedIds(
  count: number,
  newId: () => string = randomUUID,
): { ascending: string[]; insertionOrder: string[] } {
  const ascending = Array.from({ length: count }, newId).sort((a, b) => (a < b ? -1 : 1));
  return { ascending, insertionOrder: [...ascending].reverse() };
}
