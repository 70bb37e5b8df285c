import type { ExchangeExplanation, OrganizationRecord, RialtoError } from '@rialto-exchange/core';
import { text } from '../form-fields.js';
import { html } from '../html.js';
import type { ConsoleResponse } from '../responses.js';
import { csrfField, errorBox, page, refusal, type ScreenContext } from '../screen.js';

/**
 * The token debugger: an ID token and an organization in, every step of the exchange out, with
 * what each saw and the fix of the failing one. The token is posted, never put in a URL.
 */
const PICKER_SIZE = 20;

/**
 * The organizations the picker offers: the one already chosen, then the first matches of the
 * name search. The search runs in the store, so it stays quick with any number of organizations.
 */
async function pickerChoices(ctx: ScreenContext, orgId: string, orgQuery: string) {
  const chosen = orgId === '' ? null : await ctx.exchange.organizations.get(orgId);
  let matches: OrganizationRecord[] = [];
  let searchError: RialtoError | undefined;
  if (orgQuery !== '') {
    try {
      matches = (await ctx.exchange.organizations.list({ query: orgQuery, limit: PICKER_SIZE })).items;
    } catch (error) {
      searchError = refusal(error);
    }
  }
  const choices = [...(chosen ? [chosen] : []), ...matches.filter((org) => org.orgId !== chosen?.orgId)];
  return { choices, searchError, chosenId: chosen?.orgId };
}

export async function debuggerScreen(
  ctx: ScreenContext,
  result?: { explanation?: ExchangeExplanation; error?: RialtoError },
): Promise<ConsoleResponse> {
  const orgId = text(ctx.form, 'org_id') || (ctx.query.get('org_id') ?? '');
  const orgQuery = (ctx.query.get('org_query') ?? '').trim();
  const { choices, searchError, chosenId } = await pickerChoices(ctx, orgId, orgQuery);
  const explanation = result?.explanation;
  const body = html`<p>Paste an ID token a partner's application sent, pick the organization whose API key sent it, and see each check of the exchange. Nothing is written and no token is minted.</p>
<form method="get" action="${ctx.base}/debugger" class="search card" role="search">
  <label for="org_query">Find the organization by name or id</label>
  <div class="inline">
    <input id="org_query" name="org_query" type="search" value="${orgQuery}" autocomplete="off">
    ${chosenId && html`<input type="hidden" name="org_id" value="${chosenId}">`}
    <button type="submit">Find</button>
  </div>
  ${errorBox(searchError)}
  ${orgQuery !== '' && choices.length === 0 && html`<p>No organization matches.</p>`}
</form>
<form method="post" action="${ctx.base}/debugger" class="card">
  ${csrfField(ctx)}
  <fieldset>
    <legend>Organization</legend>
    ${
      choices.length === 0
        ? html`<p class="hint">Find the organization above first.</p>`
        : html`<ul class="plain choices">${choices.map(
            (
              org,
              index,
            ) => html`<li class="check"><input type="radio" id="org-${org.orgId}" name="org_id" value="${org.orgId}" required${org.orgId === chosenId || (chosenId === undefined && index === 0) ? html` checked` : ''}>
            <label for="org-${org.orgId}">${org.name} <span class="hint"><code>${org.orgId}</code></span></label></li>`,
          )}</ul>`
    }
  </fieldset>
  <label for="token">ID token</label>
  <textarea id="token" name="token" required rows="6" spellcheck="false" autocomplete="off"></textarea>
  <button type="submit"${choices.length === 0 ? html` disabled` : ''}>Explain</button>
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
