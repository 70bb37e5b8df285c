import type { ExchangeExplanation, RialtoError } from '@rialto-exchange/core';
import { text } from '../form-fields.js';
import { html } from '../html.js';
import type { ConsoleResponse } from '../responses.js';
import { csrfField, errorBox, page, refusal, type ScreenContext } from '../screen.js';

/**
 * The token debugger: an ID token and an organization in, every step of the exchange out, with
 * what each saw and the fix of the failing one. The token is posted, never put in a URL.
 */
export async function debuggerScreen(
  ctx: ScreenContext,
  result?: { explanation?: ExchangeExplanation; error?: RialtoError },
): Promise<ConsoleResponse> {
  const orgId = text(ctx.form, 'org_id') || (ctx.query.get('org_id') ?? '');
  const explanation = result?.explanation;
  const body = html`<p>Paste an ID token a partner's application sent, pick the organization whose API key sent it, and see each check of the exchange. Nothing is written and no token is minted.</p>
<form method="post" action="${ctx.base}/debugger" class="card">
  ${csrfField(ctx)}
  <label for="org_id">Organization id</label>
  <input id="org_id" name="org_id" required value="${orgId}" autocomplete="off" spellcheck="false">
  <label for="token">ID token</label>
  <textarea id="token" name="token" required rows="6" spellcheck="false" autocomplete="off"></textarea>
  <button type="submit">Explain</button>
</form>
${errorBox(result?.error)}
${
  explanation &&
  html`<section aria-labelledby="result-heading" class="card">
  <h2 id="result-heading">${explanation.would_succeed ? 'The exchange would succeed' : 'The exchange would fail'}</h2>
  ${explanation.error && html`<p class="error-text"><strong>${explanation.error.status} ${explanation.error.error}</strong>: ${explanation.error.error_description}</p>`}
  <ol class="steps">${explanation.steps.map(
    (step) => html`<li class="step ${step.result}">
    <h3><code>${step.step}</code> <span class="badge ${step.result === 'pass' ? 'ok' : step.result === 'fail' ? 'warn' : ''}">${step.result}</span></h3>
    ${step.fix && html`<p class="fix"><strong>Fix:</strong> ${step.fix}</p>`}
    ${step.note && html`<p class="hint">${step.note}</p>`}
    ${Object.keys(step.seen).length > 0 && html`<pre class="seen">${JSON.stringify(step.seen, null, 2)}</pre>`}
  </li>`,
  )}</ol>
</section>`
}`;
  return page(ctx, { title: 'Token debugger', section: 'debugger', body, status: result?.error?.status });
}

export async function explainToken(ctx: ScreenContext): Promise<ConsoleResponse> {
  try {
    const explanation = await ctx.exchange.operators.explain(
      text(ctx.form, 'org_id').trim(),
      text(ctx.form, 'token').trim(),
    );
    return debuggerScreen(ctx, { explanation });
  } catch (error) {
    return debuggerScreen(ctx, { error: refusal(error) });
  }
}
