import type { OrganizationRecord, RialtoError } from '@rialto-exchange/core';
import { list, optionalText, text } from '../form-fields.js';
import { type Html, html } from '../html.js';
import type { ConsoleResponse } from '../responses.js';
import { csrfField, dateCell, errorBox, page, refusal, type ScreenContext, shownOnce } from '../screen.js';

const PAGE_SIZE = 50;

export function organizationStatus(org: OrganizationRecord): Html {
  return org.suspendedAt === null
    ? html`<span class="badge ok">active</span>`
    : html`<span class="badge warn">suspended</span>`;
}

/** The list with search and paging, and the form that registers an organization. */
export async function organizationsScreen(
  ctx: ScreenContext,
  createError?: RialtoError,
): Promise<ConsoleResponse> {
  const query = ctx.query.get('query') ?? '';
  const cursor = ctx.query.get('cursor') ?? undefined;
  let listing: Awaited<ReturnType<typeof ctx.exchange.organizations.list>>;
  let searchError: RialtoError | undefined;
  try {
    listing = await ctx.exchange.organizations.list({ query, cursor, limit: PAGE_SIZE });
  } catch (error) {
    // A hand-edited cursor or an overlong query: say so beside the search, list nothing.
    searchError = refusal(error);
    listing = { items: [], nextCursor: null };
  }
  const { items: organizations, nextCursor } = listing;
  const next =
    nextCursor && `${ctx.base}/organizations?${new URLSearchParams({ query, cursor: nextCursor })}`;
  const body = html`<section aria-labelledby="list-heading">
  <h2 id="list-heading" class="visually-hidden">Find an organization</h2>
  <form method="get" action="${ctx.base}/organizations" class="search" role="search">
    <label for="query">Search by name or id</label>
    <div class="inline">
      <input id="query" name="query" type="search" value="${query}" autocomplete="off">
      <button type="submit">Search</button>
    </div>
  </form>
  ${errorBox(searchError)}
  ${
    organizations.length === 0
      ? html`<p>${query ? 'No organization matches.' : 'No organizations yet: register the first one below.'}</p>`
      : html`<div class="table-scroll" tabindex="0" role="region" aria-label="Organizations"><table>
    <thead><tr><th scope="col">Name</th><th scope="col">Status</th><th scope="col">Provisioning</th><th scope="col">Created</th><th scope="col">Id</th></tr></thead>
    <tbody>${organizations.map(
      (org) => html`<tr>
      <td><a href="${ctx.base}/organizations/${org.orgId}">${org.name}</a></td>
      <td>${organizationStatus(org)}</td>
      <td>${org.provisioning}</td>
      <td>${dateCell(org.createdAt)}</td>
      <td><code>${org.orgId}</code></td>
    </tr>`,
    )}</tbody>
  </table></div>`
  }
  ${next && html`<p><a href="${next}" rel="next">Next page</a></p>`}
</section>
<section aria-labelledby="create-heading" class="card">
  <h2 id="create-heading">Register an organization</h2>
  <p>The organization's first API key is shown once after registering.</p>
  ${errorBox(createError)}
  <form method="post" action="${ctx.base}/organizations">
    ${csrfField(ctx)}
    <label for="name">Name</label>
    <input id="name" name="name" required maxlength="200" value="${text(ctx.form, 'name')}">
    <label for="issuer">Issuer URL of its identity provider</label>
    <input id="issuer" name="issuer" type="url" required placeholder="https://login.example.com" value="${text(ctx.form, 'issuer')}">
    <label for="client_ids">Client ids <span class="hint">(comma-separated; empty accepts any client of the issuer)</span></label>
    <input id="client_ids" name="client_ids" value="${text(ctx.form, 'client_ids')}">
    <label for="audience">Audiences <span class="hint">(comma-separated; <code>identity</code> is always included)</span></label>
    <input id="audience" name="audience" value="${text(ctx.form, 'audience')}">
    <label for="provisioning">Provisioning</label>
    <select id="provisioning" name="provisioning">
      <option value="create">create: a first sign-in creates the user</option>
      <option value="link_only"${text(ctx.form, 'provisioning') === 'link_only' ? html` selected` : ''}>link_only: only users created beforehand</option>
    </select>
    <div class="check"><input type="checkbox" id="dpop_bound_access_tokens" name="dpop_bound_access_tokens" value="true"${text(ctx.form, 'dpop_bound_access_tokens') === 'true' ? html` checked` : ''}>
    <label for="dpop_bound_access_tokens">Require DPoP-bound access tokens</label></div>
    <button type="submit">Register</button>
  </form>
</section>`;
  return page(ctx, {
    title: 'Organizations',
    section: 'organizations',
    body,
    status: createError?.status ?? searchError?.status,
  });
}

export async function createOrganization(ctx: ScreenContext): Promise<ConsoleResponse> {
  const { form } = ctx;
  let registered: Awaited<ReturnType<typeof ctx.exchange.organizations.register>>;
  try {
    registered = await ctx.exchange.organizations.register({
      name: text(form, 'name'),
      issuer: text(form, 'issuer').trim(),
      client_ids: list(form, 'client_ids'),
      audience: list(form, 'audience'),
      provisioning: optionalText(form, 'provisioning') as 'create' | 'link_only' | undefined,
      dpop_bound_access_tokens: form.get('dpop_bound_access_tokens') === 'true',
    });
  } catch (error) {
    return organizationsScreen(ctx, refusal(error));
  }
  const { organization, apiKey, warnings } = registered;
  const body = html`${shownOnce(
    'API key',
    apiKey,
    'Copy it now and hand it to the organization over a secure channel: only its hash is stored, and it cannot be shown again. Lost keys are replaced by issuing a new one.',
  )}
  ${warnings.length > 0 && html`<div class="card"><h2>Warnings</h2><ul>${warnings.map((warning) => html`<li>${warning}</li>`)}</ul></div>`}
  <p><a class="button" href="${ctx.base}/organizations/${organization.orgId}">Open ${organization.name}</a></p>`;
  return page(ctx, {
    title: `${organization.name} registered`,
    section: 'organizations',
    body,
    status: 201,
    trail: [['Organizations', '/organizations']],
  });
}
