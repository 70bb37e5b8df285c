import { html } from '../html.js';
import type { ConsoleResponse } from '../responses.js';
import { page, type ScreenContext } from '../screen.js';

/** Health at a glance: the store, the IdP key-set cache of this instance, the webhook outbox. */
export async function healthScreen(ctx: ScreenContext): Promise<ConsoleResponse> {
  const { store, idpKeySets, outboxBacklog } = await ctx.exchange.health.summary();
  const body = html`<dl class="facts card">
  <dt>Store</dt>
  <dd>${
    store.status === 'UP'
      ? html`<span class="badge ok">reachable</span> answered a read in ${Math.round(store.latencyMs)} ms`
      : html`<span class="badge warn">unreachable</span> (${store.reason}): exchanges and admin writes fail until it answers`
  }</dd>
  <dt>IdP key sets cached</dt>
  <dd>${idpKeySets.cached}${idpKeySets.oldestAgeSeconds !== null && html`, the oldest fetched ${idpKeySets.oldestAgeSeconds} s ago`} <span class="hint">(on this instance)</span></dd>
  <dt>Webhook outbox backlog</dt>
  <dd>${outboxBacklog === null ? html`<span class="hint">not counted by this store</span>` : html`${outboxBacklog} ${outboxBacklog === 1 ? 'delivery' : 'deliveries'} due`}</dd>
</dl>`;
  return page(ctx, { title: 'Health', section: 'health', body, status: store.status === 'UP' ? 200 : 503 });
}
