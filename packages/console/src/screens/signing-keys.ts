import type { RotatedKey } from '@rialto-exchange/core';
import { html } from '../html.js';
import type { ConsoleResponse } from '../responses.js';
import { csrfField, page, type ScreenContext } from '../screen.js';

export async function signingKeysScreen(ctx: ScreenContext, rotated?: RotatedKey): Promise<ConsoleResponse> {
  const body = html`${
    rotated &&
    html`<p class="notice" role="status">Added key <code>${rotated.kid}</code>: published in the JWKS now; it signs once its pre-publication delay has passed, and the key it replaces keeps verifying until its tokens expire.</p>`
  }
<section class="card" aria-labelledby="rotate-heading">
  <h2 id="rotate-heading">Rotate the access-token signing key</h2>
  <p>Adds a new key. Other instances pick it up within a minute; nothing is revoked.</p>
  <form method="post" action="${ctx.base}/keys/rotate" data-confirm="Add a new signing key now?">
    ${csrfField(ctx)}<button type="submit">Rotate signing key</button>
  </form>
</section>`;
  return page(ctx, { title: 'Signing keys', section: 'keys', body, status: rotated ? 201 : 200 });
}

export async function rotateSigningKey(ctx: ScreenContext): Promise<ConsoleResponse> {
  return signingKeysScreen(ctx, await ctx.exchange.keys.rotate());
}
