import { createHash, randomUUID } from 'node:crypto';
import type {
  ApiKeyRecord,
  EmailLinkingPolicy,
  IssuerRegistrationRecord,
  Store,
} from '@rialto-exchange/core';
import Sqlite from 'better-sqlite3';
import { expect } from 'vitest';
import { apiKey, issuerRegistration, organization } from '../src/conformance/fixtures.js';
import { forgetMigration, undoLinkScopesMigration } from './legacy-migration-runner.js';

/** An organization as the single-issuer schema (SQL versions 1-2, earlier Redis and Keyv records) stored it. */
export interface LegacyOrganization {
  orgId: string;
  name: string;
  issuer: string;
  audience: string[];
  clientIds: string[];
  allowedAlgorithms: string[];
  emailLinking: EmailLinkingPolicy;
  createdAt: number;
  updatedAt: number;
}

/** Two orgs as the single-issuer schema stored them: one trusting any client, one naming its clients. */
export function legacyOrganizations(): { exclusive: LegacyOrganization; shared: LegacyOrganization } {
  const base = {
    audience: ['identity'],
    allowedAlgorithms: ['RS256'],
    createdAt: 1_700_000_000,
    updatedAt: 1_700_000_100,
  };
  return {
    exclusive: {
      ...base,
      orgId: randomUUID(),
      name: 'Exclusive',
      issuer: `https://exclusive-${randomUUID()}.example.com`,
      clientIds: [],
      emailLinking: 'never',
    },
    shared: {
      ...base,
      orgId: randomUUID(),
      name: 'Shared',
      issuer: `https://shared-${randomUUID()}.example.com`,
      clientIds: ['app-a'],
      emailLinking: 'verified',
    },
  };
}

/** An `organizations` row as schema versions 1 and 2 wrote it, as one SQL statement. */
export function legacyOrganizationInsert(tablePrefix: string, org: LegacyOrganization): string {
  const text = (value: string) => `'${value.replaceAll("'", "''")}'`;
  const values = [
    text(org.orgId),
    text(org.issuer),
    text(createHash('sha256').update(org.issuer).digest('hex')),
    text(org.name),
    text(JSON.stringify(org.audience)),
    text(JSON.stringify(org.clientIds)),
    text(JSON.stringify(org.allowedAlgorithms)),
    text(org.emailLinking),
    org.createdAt,
    org.updatedAt,
  ];
  return `insert into ${tablePrefix}organizations (org_id, issuer, issuer_key, name, audience, client_ids, allowed_algorithms, email_linking, created_at, updated_at) values (${values.join(', ')})`;
}

/** Statements that take a migrated database back to before migration 5 (issuer registrations). */
export function undoIssuerRegistrationsMigration(tablePrefix: string): string[] {
  return [
    `drop table ${tablePrefix}issuer_registrations`,
    `drop table ${tablePrefix}issuer_usage`,
    `drop table ${tablePrefix}issuer_client_claims`,
    forgetMigration(tablePrefix, 5),
    // Its columns went with the table: a version 2 database upgrades through both.
    forgetMigration(tablePrefix, 10),
    ...undoLinkScopesMigration(tablePrefix, { withRegistrations: false }),
  ];
}

function migrated(org: LegacyOrganization): IssuerRegistrationRecord {
  return {
    registrationId: org.orgId,
    orgId: org.orgId,
    issuer: org.issuer,
    clientIds: org.clientIds,
    allowedAlgorithms: org.allowedAlgorithms,
    emailLinking: org.emailLinking,
    subjectClaim: 'sub',
    trustUsernameClaims: false,
    createdAt: org.createdAt,
    updatedAt: org.updatedAt,
  };
}

/**
 * What an upgraded store must show of the legacy orgs: each issuer became the org's first
 * registration, the org keeps its name and audience, and the old issuer still holds its claims.
 */
export async function expectLegacyOrganizationsUpgraded(
  store: Store,
  { exclusive, shared }: ReturnType<typeof legacyOrganizations>,
): Promise<void> {
  expect(await store.findIssuerRegistrations(shared.issuer)).toEqual([migrated(shared)]);
  expect(await store.listIssuerRegistrations(exclusive.orgId)).toEqual([migrated(exclusive)]);
  expect(await store.getOrganization(shared.orgId)).toEqual({
    orgId: shared.orgId,
    name: shared.name,
    audience: shared.audience,
    // Organizations stored before suspension, provisioning modes and DPoP binding existed read as
    // active, creating users, with bearer tokens.
    provisioning: 'create',
    suspendedAt: null,
    dpopBoundAccessTokens: false,
    createdAt: shared.createdAt,
    updatedAt: shared.updatedAt,
  });

  const newcomer = organization();
  expect(
    await store.createOrganization(
      newcomer,
      apiKey(newcomer.orgId),
      issuerRegistration(newcomer.orgId, { issuer: exclusive.issuer, clientIds: ['app-x'] }),
    ),
  ).toBe('issuer_taken');
  expect(
    await store.createOrganization(
      newcomer,
      apiKey(newcomer.orgId),
      issuerRegistration(newcomer.orgId, { issuer: shared.issuer, clientIds: ['app-a'] }),
    ),
  ).toBe('client_id_taken');
  const joining = issuerRegistration(newcomer.orgId, {
    issuer: shared.issuer,
    clientIds: ['app-b'],
    createdAt: 1_800_000_000,
  });
  expect(await store.createOrganization(newcomer, apiKey(newcomer.orgId), joining)).toBe('created');
  expect(await store.findIssuerRegistrations(shared.issuer)).toEqual([migrated(shared), joining]);

  expect(await store.removeIssuerRegistration(exclusive.orgId, exclusive.orgId)).toBe(true);
  expect(await store.findIssuerRegistrations(exclusive.issuer)).toEqual([]);
  expect(
    await store.addIssuerRegistration(
      issuerRegistration(newcomer.orgId, { issuer: exclusive.issuer, clientIds: ['x'] }),
    ),
  ).toBe('added');
}

/** Takes a migrated SQLite file back to version 2 and writes an org and its API key as version 2 did. */
export function writeVersion2SqliteOrganization(
  filename: string,
  org: LegacyOrganization,
  key: ApiKeyRecord,
): void {
  const database = new Sqlite(filename);
  try {
    for (const statement of undoIssuerRegistrationsMigration('rialto_')) database.exec(statement);
    database.exec(legacyOrganizationInsert('rialto_', org));
    database
      .prepare(
        'insert into rialto_api_keys (key_id, org_id, hash, created_at, revoked_at) values (?, ?, ?, ?, null)',
      )
      .run(key.keyId, key.orgId, key.hash, key.createdAt);
  } finally {
    database.close();
  }
}
