import { type OrganizationRecord, RialtoError, type WebhookDeliveryRecord } from '@rialto-exchange/core';
import { html } from '../html.js';
import type { ConsoleResponse } from '../responses.js';
import { csrfField, dateCell, errorBox, page, type ScreenContext, write } from '../screen.js';

async function existingOrg(ctx: ScreenContext): Promise<OrganizationRecord> {
  const org = await ctx.exchange.organizations.get(ctx.params.orgId ?? '');
  if (!org) throw new RialtoError('not_found', 'No such organization.');
  return org;
}

function lastResponse(delivery: WebhookDeliveryRecord): string {
  const last = delivery.attempts.at(-1);
  if (!last) return '—';
  return last.responseStatus === null ? (last.error ?? 'no response') : String(last.responseStatus);
}

/** A subscription and its recent deliveries: status, attempts, next retry, last response; redeliver one. */
export async function webhookScreen(ctx: ScreenContext, refused?: RialtoError): Promise<ConsoleResponse> {
  const org = await existingOrg(ctx);
  const webhookId = ctx.params.webhookId ?? '';
  const subscription = (await ctx.exchange.webhooks.listSubscriptions(org.orgId)).find(
    (candidate) => candidate.subscriptionId === webhookId,
  );
  if (!subscription) throw new RialtoError('not_found', 'No such webhook in this organization.');
  const deliveries = await ctx.exchange.webhooks.listDeliveries(org.orgId, webhookId);
  const path = `${ctx.base}/organizations/${org.orgId}/webhooks/${webhookId}`;
  const body = html`<section class="card" aria-labelledby="subscription-heading">
  <h2 id="subscription-heading">Subscription</h2>
  <dl class="facts">
    <dt>URL</dt><dd><code>${subscription.url}</code></dd>
    <dt>Events</dt><dd>${subscription.eventTypes.join(', ')}</dd>
    <dt>State</dt><dd>${subscription.disabledAt === null ? html`<span class="badge ok">enabled</span>` : html`<span class="badge warn">disabled</span> (the receiver answered 410 Gone)`}</dd>
    <dt>Created</dt><dd>${dateCell(subscription.createdAt)}</dd>
  </dl>
  <p class="hint">The signing secret was shown once, to the organization, when it subscribed.</p>
</section>
<section class="card" aria-labelledby="deliveries-heading">
  <h2 id="deliveries-heading">Recent deliveries</h2>
  ${errorBox(refused)}
  ${
    deliveries.length === 0
      ? html`<p>No deliveries yet.</p>`
      : html`<div class="table-scroll" tabindex="0" role="region" aria-label="Deliveries"><table>
    <thead><tr><th scope="col">Event</th><th scope="col">Status</th><th scope="col">Attempts</th><th scope="col">Last response</th><th scope="col">Next retry</th><th scope="col">Created</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
    <tbody>${deliveries.map(
      (delivery) => html`<tr>
      <td><code>${delivery.eventType}</code></td>
      <td><span class="badge ${delivery.status === 'succeeded' ? 'ok' : delivery.status === 'pending' ? '' : 'warn'}">${delivery.status}</span></td>
      <td>${delivery.attempts.length}</td>
      <td>${lastResponse(delivery)}</td>
      <td>${dateCell(delivery.nextAttemptAt)}</td>
      <td>${dateCell(delivery.createdAt)}</td>
      <td>${
        delivery.status !== 'pending' &&
        html`<form method="post" action="${path}/deliveries/${delivery.deliveryId}/redeliver">${csrfField(ctx)}<button type="submit" aria-label="Redeliver ${delivery.eventType} of ${delivery.createdAt}">Redeliver</button></form>`
      }</td>
    </tr>`,
    )}</tbody></table></div>`
  }
</section>`;
  return page(ctx, {
    title: 'Webhook deliveries',
    section: 'organizations',
    body,
    status: refused?.status,
    trail: [
      ['Organizations', '/organizations'],
      [org.name, `/organizations/${org.orgId}`],
    ],
  });
}

export async function redeliverDelivery(ctx: ScreenContext): Promise<ConsoleResponse> {
  const { orgId = '', webhookId = '', deliveryId = '' } = ctx.params;
  return write(
    () => ctx.exchange.webhooks.redeliver(orgId, webhookId, deliveryId),
    `${ctx.base}/organizations/${orgId}/webhooks/${webhookId}?done=redelivered`,
    (error) => webhookScreen(ctx, error),
  );
}
