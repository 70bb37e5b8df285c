import { StoreUnavailableError } from '@rialto-exchange/core';
import type { SqlStore } from '@rialto-exchange/storage-adapters';
import { expect } from 'vitest';
import { apiKey, issuerRegistration, organization } from '../src/conformance/fixtures.js';
import { eventually, within } from './deadline.js';
import type { TcpProxy } from './tcp-proxy.js';

/** `connectTimeoutMs` of the stores these tests open through a proxy. */
export const CONNECT_TIMEOUT_MS = 500;
/** `commandTimeoutMs` of those stores. */
export const COMMAND_TIMEOUT_MS = 1_500;
// Scheduling slack on a loaded 2-core machine; far below what a hanging call would take.
export const MARGIN_MS = 1_000;
export const RECOVERY_MS = 5_000;

/**
 * The outage every SQL dialect must survive: while `proxy` refuses connections, writes and reads
 * fail with StoreUnavailableError within the connect timeout and the failed write leaves nothing;
 * once it accepts them again, the store recovers without being reopened.
 * @param store a store opened through `proxy`, with `connectTimeoutMs: CONNECT_TIMEOUT_MS`
 */
export async function expectRefusedConnectionsToFailThenRecover(
  store: SqlStore,
  proxy: TcpProxy,
): Promise<void> {
  const org = organization();
  await store.createOrganization(org, apiKey(org.orgId), issuerRegistration(org.orgId));

  proxy.refuse();
  const during = organization();
  await expect(
    within(
      CONNECT_TIMEOUT_MS + MARGIN_MS,
      store.createOrganization(during, apiKey(during.orgId), issuerRegistration(during.orgId)),
    ),
  ).rejects.toBeInstanceOf(StoreUnavailableError);
  await expect(
    within(CONNECT_TIMEOUT_MS + MARGIN_MS, store.getOrganization(org.orgId)),
  ).rejects.toBeInstanceOf(StoreUnavailableError);

  proxy.restore();
  expect(await eventually(RECOVERY_MS, () => store.getOrganization(org.orgId))).toEqual(org);
  expect(await store.getOrganization(during.orgId)).toBeNull();
}

/**
 * The stall every SQL dialect must survive: while `proxy` holds every byte of established
 * connections, reads and writes fail with StoreUnavailableError within the command deadline
 * instead of hanging the whole stall; once bytes flow again, the store answers correctly on fresh
 * connections, and the stalled write (its connection destroyed) never happened.
 * @param store a store opened through `proxy` with `commandTimeoutMs: COMMAND_TIMEOUT_MS`
 */
export async function expectStalledStatementsToFailWithinDeadline(
  store: SqlStore,
  proxy: TcpProxy,
): Promise<void> {
  const orgs = [organization(), organization(), organization()];
  for (const org of orgs)
    await store.createOrganization(org, apiKey(org.orgId), issuerRegistration(org.orgId));

  proxy.stall();
  const during = organization();
  const outcomes = await within(
    COMMAND_TIMEOUT_MS + MARGIN_MS,
    Promise.allSettled([
      store.createOrganization(during, apiKey(during.orgId), issuerRegistration(during.orgId)),
      ...orgs.map((org) => store.getOrganization(org.orgId)),
    ]),
  );
  for (const outcome of outcomes) {
    expect(outcome.status === 'rejected' && outcome.reason).toBeInstanceOf(StoreUnavailableError);
  }

  proxy.restore();
  // Each answer matches its own question: no connection still carries a reply meant for a timed-out statement.
  expect(
    await eventually(RECOVERY_MS, () => Promise.all(orgs.map((org) => store.getOrganization(org.orgId)))),
  ).toEqual(orgs);
  expect(await store.getOrganization(during.orgId)).toBeNull();
}
