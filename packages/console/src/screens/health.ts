import { html } from '../html.js';
import type { ConsoleResponse } from '../responses.js';
import { page, type ScreenContext } from '../screen.js';

const NIL_UUID = '00000000-0000-0000-0000-000000000000';

/** Health at a glance: whether the store answers, and how fast. */
export async function healthScreen(ctx: ScreenContext): Promise<ConsoleResponse> {
  const startedMs = performance.now();
  let store: { up: true; latencyMs: number } | { up: false; reason: string };
  try {
    await ctx.exchange.organizations.get(NIL_UUID);
    store = { up: true, latencyMs: Math.round(performance.now() - startedMs) };
  } catch (error) {
    store = { up: false, reason: error instanceof Error ? error.message : String(error) };
  }
  const body = html`<dl class="facts card">
  <dt>Store</dt>
  <dd>${store.up ? html`<span class="badge ok">reachable</span> read in ${store.latencyMs} ms` : html`<span class="badge warn">unreachable</span> ${store.reason}`}</dd>
</dl>`;
  return page(ctx, { title: 'Health', section: 'health', body });
}
