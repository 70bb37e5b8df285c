import {
  type IssuerRegistrationRecord,
  type OrganizationRecord,
  RialtoError,
  storeKit,
} from '@rialto-exchange/core';
import { list, optionalText, text } from '../form-fields.js';
import { type Html, html } from '../html.js';
import type { ConsoleResponse } from '../responses.js';
import {
  csrfField,
  dateCell,
  errorBox,
  page,
  refusal,
  type ScreenContext,
  shownOnce,
  write,
} from '../screen.js';
import { claimMappingsField, linkScopeField } from './issuer.js';
import { organizationStatus } from './organizations.js';

function policySummary(issuer: IssuerRegistrationRecord): Html {
  const { condition, claimMappings } = storeKit.policyOf(issuer);
  const mapped = Object.keys(claimMappings).length;
  if (condition === null && mapped === 0) return html`<em>none</em>`;
  return html`${condition !== null && 'condition'}${condition !== null && mapped > 0 && ', '}${mapped > 0 && `${mapped} mapping${mapped === 1 ? '' : 's'}`}`;
}

/** Which form a refusal belongs to, so its error shows beside that form. */
type FormName = 'status' | 'provisioning' | 'dpop' | 'audience' | 'delete' | 'keys' | 'issuers';

interface OrganizationView {
  error?: { form: FormName; error: RialtoError };
  /** Shown above the sections: a key shown once, or what an issuer's discovery document said. */
  panel?: Html;
  status?: number;
}

async function existingOrg(ctx: ScreenContext): Promise<OrganizationRecord> {
  const org = await ctx.exchange.organizations.get(ctx.params.orgId ?? '');
  if (!org) throw new RialtoError('not_found', 'No such organization.');
  return org;
}

function errorFor(view: OrganizationView, form: FormName): Html {
  return errorBox(view.error?.form === form ? view.error.error : undefined);
}

export async function organizationScreen(
  ctx: ScreenContext,
  view: OrganizationView = {},
): Promise<ConsoleResponse> {
  const { exchange } = ctx;
  const orgId = ctx.params.orgId ?? '';
  const [{ organization: org, apiKeys, issuers }, webhooks] = await Promise.all([
    exchange.organizations.overview(orgId),
    exchange.webhooks.listSubscriptions(orgId),
  ]);
  const path = `${ctx.base}/organizations/${org.orgId}`;
  const isSuspended = org.suspendedAt !== null;
  // A refused issuer form shows again with what was typed.
  const typed = (field: string) => (view.error?.form === 'issuers' ? text(ctx.form, field) : '');
  const body = html`${view.panel}
<section class="card" aria-labelledby="summary-heading">
  <h2 id="summary-heading">Summary</h2>
  <dl class="facts">
    <dt>Id</dt><dd><code>${org.orgId}</code></dd>
    <dt>Status</dt><dd>${organizationStatus(org)}${isSuspended && html` since ${dateCell(org.suspendedAt)}`}</dd>
    <dt>Created</dt><dd>${dateCell(org.createdAt)}</dd>
  </dl>
  ${errorFor(view, 'status')}
  <form method="post" action="${path}/${isSuspended ? 'resume' : 'suspend'}"${isSuspended ? '' : html` data-confirm="Suspend ${org.name}? Its exchanges, refreshes and access tokens are refused until it is resumed."`}>
    ${csrfField(ctx)}
    <button type="submit"${isSuspended ? '' : html` class="danger"`}>${isSuspended ? 'Resume' : 'Suspend'}</button>
  </form>
  <p class="links"><a href="${path}/users">Users of ${org.name}</a> · <a href="${ctx.base}/debugger?org_id=${org.orgId}">Debug a token of ${org.name}</a></p>
</section>
<section class="card" aria-labelledby="settings-heading">
  <h2 id="settings-heading">Settings</h2>
  ${errorFor(view, 'provisioning')}
  <form method="post" action="${path}/provisioning">
    ${csrfField(ctx)}
    <label for="provisioning">Provisioning</label>
    <div class="inline">
      <select id="provisioning" name="provisioning">
        <option value="create"${org.provisioning === 'create' ? html` selected` : ''}>create: a first sign-in creates the user</option>
        <option value="link_only"${org.provisioning === 'link_only' ? html` selected` : ''}>link_only: only users created beforehand</option>
      </select>
      <button type="submit">Save</button>
    </div>
  </form>
  ${errorFor(view, 'dpop')}
  <form method="post" action="${path}/dpop">
    ${csrfField(ctx)}
    <div class="check"><input type="checkbox" id="dpop_bound_access_tokens" name="dpop_bound_access_tokens" value="true"${org.dpopBoundAccessTokens ? html` checked` : ''}>
    <label for="dpop_bound_access_tokens">Require DPoP-bound access tokens <span class="hint">(every exchange and refresh must present a DPoP proof)</span></label></div>
    <button type="submit">Save DPoP setting</button>
  </form>
  ${errorFor(view, 'audience')}
  <form method="post" action="${path}/audience">
    ${csrfField(ctx)}
    <label for="audience">Audience scopes <span class="hint">(comma-separated; <code>identity</code> is always kept)</span></label>
    <div class="inline">
      <input id="audience" name="audience" value="${org.audience.join(', ')}">
      <button type="submit">Save</button>
    </div>
  </form>
</section>
<section class="card" aria-labelledby="keys-heading">
  <h2 id="keys-heading">API keys</h2>
  ${errorFor(view, 'keys')}
  ${
    apiKeys.length === 0
      ? html`<p>No active API key: the organization cannot exchange tokens until one is issued.</p>`
      : html`<div class="table-scroll" tabindex="0" role="region" aria-label="API keys"><table>
    <thead><tr><th scope="col">Key id</th><th scope="col">Created</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
    <tbody>${apiKeys.map(
      (key) => html`<tr><td><code>${key.keyId}</code></td><td>${dateCell(key.createdAt)}</td><td>
      <form method="post" action="${path}/api-keys/${key.keyId}/revoke" data-confirm="Revoke this key? Every service using it is refused from now on.">
        ${csrfField(ctx)}<button type="submit" class="danger" aria-label="Revoke key ${key.keyId}">Revoke</button>
      </form></td></tr>`,
    )}</tbody></table></div>`
  }
  <form method="post" action="${path}/api-keys">${csrfField(ctx)}<button type="submit">Issue a new API key</button></form>
</section>
<section class="card" aria-labelledby="issuers-heading">
  <h2 id="issuers-heading">Issuers</h2>
  <div class="table-scroll" tabindex="0" role="region" aria-label="Issuers"><table>
    <thead><tr><th scope="col">Issuer</th><th scope="col">Client ids</th><th scope="col">Subject claim</th><th scope="col">Email linking</th><th scope="col">Policy</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
    <tbody>${issuers.map(
      (
        issuer,
      ) => html`<tr><td><a href="${path}/issuers/${issuer.registrationId}"><code>${issuer.issuer}</code></a></td><td>${issuer.clientIds.length === 0 ? html`<em>any</em>` : issuer.clientIds.join(', ')}</td>
      <td><code>${issuer.subjectClaim}</code></td><td>${issuer.emailLinking}, within ${storeKit.linkScopeOf(issuer) === 'org' ? 'the organization' : 'this issuer'}</td>
      <td>${policySummary(issuer)} <a href="${path}/issuers/${issuer.registrationId}" aria-label="Edit the policy of ${issuer.issuer}">Edit</a></td><td>
      <form method="post" action="${path}/issuers/${issuer.registrationId}/remove" data-confirm="Remove ${issuer.issuer}? Its tokens are refused from now on.">
        ${csrfField(ctx)}<div class="check"><input type="checkbox" id="end-sessions-${issuer.registrationId}" name="end_sessions" value="true">
        <label for="end-sessions-${issuer.registrationId}">End its sessions</label></div>
        <button type="submit" class="danger" aria-label="Remove issuer ${issuer.issuer}">Remove</button>
      </form></td></tr>`,
    )}</tbody></table></div>
  <h3>Add an issuer</h3>
  ${errorFor(view, 'issuers')}
  <form method="post" action="${path}/issuers">
    ${csrfField(ctx)}
    <label for="issuer">Issuer URL</label>
    <input id="issuer" name="issuer" type="url" required value="${typed('issuer')}">
    <label for="issuer-client-ids">Client ids <span class="hint">(comma-separated)</span></label>
    <input id="issuer-client-ids" name="client_ids" value="${typed('client_ids')}">
    <label for="subject_claim">Subject claim <span class="hint">(empty: <code>sub</code>; <code>oid</code> for Microsoft Entra ID)</span></label>
    <input id="subject_claim" name="subject_claim" value="${typed('subject_claim')}">
    <div class="check"><input type="checkbox" id="unsafe_subject_claim" name="unsafe_subject_claim" value="true"${typed('unsafe_subject_claim') === 'true' ? html` checked` : ''}>
    <label for="unsafe_subject_claim">Allow a subject claim that is not a known stable identifier <span class="hint">(the registration then carries a warning)</span></label></div>
    <label for="email_linking">Email linking</label>
    <select id="email_linking" name="email_linking">
      <option value="">service default</option>
      ${['verified', 'unless_unverified', 'never'].map(
        (policy) =>
          html`<option value="${policy}"${typed('email_linking') === policy ? html` selected` : ''}>${policy}</option>`,
      )}
    </select>
    ${linkScopeField(typed('link_scope') || 'issuer')}
    <label for="condition">Condition <span class="hint">(optional CEL, e.g. <code>claims.hd == "partner.example"</code>)</span></label>
    <textarea id="condition" name="condition" rows="2" spellcheck="false" autocomplete="off">${typed('condition')}</textarea>
    <label for="claim_mappings">Claim mappings <span class="hint">(optional JSON object: claim name to CEL expression)</span></label>
    <textarea id="claim_mappings" name="claim_mappings" rows="3" spellcheck="false" autocomplete="off">${typed('claim_mappings')}</textarea>
    <button type="submit">Add issuer</button>
  </form>
</section>
<section class="card" aria-labelledby="webhooks-heading">
  <h2 id="webhooks-heading">Webhooks</h2>
  ${
    webhooks.length === 0
      ? html`<p>No webhook subscription. The organization subscribes with its API key (<code>POST /notifications/webhooks</code>).</p>`
      : html`<ul class="plain">${webhooks.map(
          (hook) => html`<li><a href="${path}/webhooks/${hook.subscriptionId}"><code>${hook.url}</code></a>
          ${hook.disabledAt !== null && html`<span class="badge warn">disabled</span>`} <span class="hint">${hook.eventTypes.join(', ')}</span></li>`,
        )}</ul>`
  }
</section>
<section class="card danger-zone" aria-labelledby="delete-heading">
  <h2 id="delete-heading">Delete this organization</h2>
  <p>Deletes the organization with its keys, issuers, users, sessions and webhooks. This cannot be undone.</p>
  ${errorFor(view, 'delete')}
  <form method="post" action="${path}/delete" class="typed-confirm">
    ${csrfField(ctx)}
    <label for="confirm">Type the organization's name, <strong>${org.name}</strong>, to confirm</label>
    <input id="confirm" name="confirm" autocomplete="off" required data-expected="${org.name}">
    <button type="submit" class="danger">Delete organization</button>
  </form>
</section>`;
  return page(ctx, {
    title: org.name,
    section: 'organizations',
    body,
    status: view.status ?? view.error?.error.status,
    trail: [['Organizations', '/organizations']],
  });
}

/** Each write on the organization page: the facade call, and the form its refusal shows beside. */
function orgWrite(
  form: FormName,
  done: string,
  action: (ctx: ScreenContext, orgId: string) => Promise<unknown>,
) {
  return async (ctx: ScreenContext): Promise<ConsoleResponse> => {
    const orgId = ctx.params.orgId ?? '';
    return write(
      () => action(ctx, orgId),
      `${ctx.base}/organizations/${orgId}?done=${done}`,
      (error) => organizationScreen(ctx, { error: { form, error } }),
    );
  };
}

export const suspendOrganization = orgWrite('status', 'suspended', (ctx, orgId) =>
  ctx.exchange.organizations.suspend(orgId),
);
export const resumeOrganization = orgWrite('status', 'resumed', (ctx, orgId) =>
  ctx.exchange.organizations.resume(orgId),
);
export const setProvisioning = orgWrite('provisioning', 'provisioning', (ctx, orgId) =>
  ctx.exchange.organizations.setProvisioning(orgId, text(ctx.form, 'provisioning') as 'create'),
);
export const setDpopBoundAccessTokens = orgWrite('dpop', 'dpop', (ctx, orgId) =>
  ctx.exchange.organizations.setDpopBoundAccessTokens(
    orgId,
    ctx.form.get('dpop_bound_access_tokens') === 'true',
  ),
);
export const setAudience = orgWrite('audience', 'audience', (ctx, orgId) =>
  ctx.exchange.organizations.setAudience(orgId, list(ctx.form, 'audience') ?? []),
);
export const revokeApiKey = orgWrite('keys', 'key-revoked', (ctx, orgId) =>
  ctx.exchange.apiKeys.revoke(orgId, ctx.params.keyId ?? ''),
);
// Unticked, the sessions begun through the issuer keep refreshing, as the HTTP route's default.
export const removeIssuer = orgWrite('issuers', 'issuer-removed', (ctx, orgId) =>
  ctx.exchange.issuers.remove(orgId, ctx.params.issuerId ?? '', {
    endSessions: ctx.form.get('end_sessions') === 'true',
  }),
);

export async function deleteOrganization(ctx: ScreenContext): Promise<ConsoleResponse> {
  const org = await existingOrg(ctx);
  // A console-only guard against deleting the wrong organization, as Auth0 and Keycloak ask for.
  if (text(ctx.form, 'confirm').trim() !== org.name) {
    const mismatch = new RialtoError(
      'invalid_request',
      `confirm: type the organization's name, "${org.name}", exactly to delete it.`,
    );
    return organizationScreen(ctx, { error: { form: 'delete', error: mismatch } });
  }
  return write(
    () => ctx.exchange.organizations.remove(org.orgId),
    `${ctx.base}/organizations?done=deleted`,
    (error) => organizationScreen(ctx, { error: { form: 'delete', error } }),
  );
}

export async function issueApiKey(ctx: ScreenContext): Promise<ConsoleResponse> {
  const orgId = ctx.params.orgId ?? '';
  let issued: Awaited<ReturnType<typeof ctx.exchange.apiKeys.issue>>;
  try {
    issued = await ctx.exchange.apiKeys.issue(orgId);
  } catch (error) {
    return organizationScreen(ctx, { error: { form: 'keys', error: refusal(error) as RialtoError } });
  }
  const panel = shownOnce(
    'New API key',
    issued.apiKey,
    'Copy it now: only its hash is stored. Deploy it, then revoke the key it replaces.',
  );
  return organizationScreen(ctx, { panel, status: 201 });
}

export async function addIssuer(ctx: ScreenContext): Promise<ConsoleResponse> {
  const orgId = ctx.params.orgId ?? '';
  const { form } = ctx;
  let added: Awaited<ReturnType<typeof ctx.exchange.issuers.add>>;
  try {
    added = await ctx.exchange.issuers.add(orgId, {
      issuer: text(form, 'issuer').trim(),
      client_ids: list(form, 'client_ids'),
      subject_claim: optionalText(form, 'subject_claim'),
      email_linking: optionalText(form, 'email_linking') as 'never' | undefined,
      link_scope: optionalText(form, 'link_scope') as 'issuer' | undefined,
      unsafe_subject_claim: form.get('unsafe_subject_claim') === 'true' || undefined,
      condition: optionalText(form, 'condition'),
      claim_mappings: claimMappingsField(form),
    });
  } catch (error) {
    return organizationScreen(ctx, { error: { form: 'issuers', error: refusal(error) as RialtoError } });
  }
  // Advisory: the registration stands whatever the IdP answers now.
  const check = await ctx.exchange.operators.checkIssuerDiscovery(orgId, added.registrationId);
  const panel = html`<section class="card" aria-labelledby="discovery-heading" role="status">
  <h2 id="discovery-heading">Issuer added: discovery check</h2>
  ${
    check.found
      ? html`<p class="ok-text">Found the OpenID configuration of <code>${check.issuer}</code>; its keys are at <code>${check.jwksUri}</code>.</p>`
      : html`<p class="warning">The issuer is registered, but its OpenID configuration could not be used now: ${check.reason}. Exchanges fail until the IdP answers; check the URL if this persists.</p>`
  }
</section>`;
  return organizationScreen(ctx, { panel, status: 201 });
}
