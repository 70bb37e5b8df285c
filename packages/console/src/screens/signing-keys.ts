import type { RotatedKey, SigningKeyStatus } from '@rialto-exchange/core';
import { html } from '../html.js';
import type { ConsoleResponse } from '../responses.js';
import { csrfField, dateCell, page, type ScreenContext } from '../screen.js';

const STATE_BADGE: Record<SigningKeyStatus['state'], string> = {
  next: '',
  active: 'ok',
  retired: 'warn',
  expired: 'warn',
};

/** The active, next and retired signing keys with their dates, and rotation. */
export async function signingKeysScreen(ctx: ScreenContext, rotated?: RotatedKey): Promise<ConsoleResponse> {
  const keys = await ctx.exchange.keys.list();
  const hostKeys = keys.some((key) => key.use === 'access_token' && key.source === 'host');
  const body = html`${
    rotated &&
    html`<p class="notice" role="status">Added key <code>${rotated.kid}</code>: published in the JWKS now; it signs once its pre-publication delay has passed, and the key it replaces keeps verifying until its tokens expire.</p>`
  }
<div class="table-scroll" tabindex="0" role="region" aria-label="Signing keys"><table>
  <thead><tr><th scope="col">Key id</th><th scope="col">Use</th><th scope="col">State</th><th scope="col">Algorithm</th><th scope="col">Created</th><th scope="col">Signs from</th><th scope="col">Retired</th><th scope="col">Verifies until</th></tr></thead>
  <tbody>${keys.map(
    (key) => html`<tr><td><code>${key.kid}</code></td><td>${key.use}</td>
    <td><span class="badge ${STATE_BADGE[key.state]}">${key.state}</span>${key.source === 'host' && html` <span class="hint">(host)</span>`}</td>
    <td>${key.alg}</td><td>${dateCell(key.createdAt)}</td><td>${dateCell(key.activatesAt)}</td>
    <td>${dateCell(key.retiredAt)}</td><td>${dateCell(key.verifiesUntil)}</td></tr>`,
  )}</tbody>
</table></div>
<section class="card" aria-labelledby="rotate-heading">
  <h2 id="rotate-heading">Rotate the access-token signing key</h2>
  ${
    hostKeys
      ? html`<p>The host supplies the access-token keys through options: rotate them there.</p>`
      : html`<p>Adds a new key. Other instances pick it up within a minute; nothing is revoked.</p>
  <form method="post" action="${ctx.base}/keys/rotate" data-confirm="Add a new signing key now?">
    ${csrfField(ctx)}<button type="submit">Rotate signing key</button>
  </form>`
  }
</section>`;
  return page(ctx, { title: 'Signing keys', section: 'keys', body, status: rotated ? 201 : 200 });
}

export async function rotateSigningKey(ctx: ScreenContext): Promise<ConsoleResponse> {
  return signingKeysScreen(ctx, await ctx.exchange.keys.rotate());
}
