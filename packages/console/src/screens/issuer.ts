import { type IssuerPolicyPatch, RialtoError, storeKit } from '@rialto-exchange/core';
import { optionalText, text } from '../form-fields.js';
import { html } from '../html.js';
import type { ConsoleResponse } from '../responses.js';
import { csrfField, dateCell, errorBox, page, refusal, type ScreenContext, write } from '../screen.js';

/**
 * The `claim_mappings` field as the API takes it: a JSON object, or empty for none. Only parsing
 * happens here; which names and expressions are allowed is the facade's rule.
 */
export function claimMappingsField(form: URLSearchParams): Record<string, string> | undefined {
  const source = text(form, 'claim_mappings').trim();
  if (source === '') return undefined;
  try {
    return JSON.parse(source) as Record<string, string>;
  } catch (error) {
    throw new RialtoError(
      'invalid_request',
      `claim_mappings: not JSON (${(error as Error).message}); write an object such as {"department": "claims.department"}.`,
    );
  }
}

function prettyMappings(mappings: Record<string, string>): string {
  return Object.keys(mappings).length === 0 ? '' : JSON.stringify(mappings, null, 2);
}

/** One issuer registration: what it trusts, and its exchange policy, editable. */
export async function issuerScreen(ctx: ScreenContext, refused?: RialtoError): Promise<ConsoleResponse> {
  const orgId = ctx.params.orgId ?? '';
  const issuerId = ctx.params.issuerId ?? '';
  const { organization: org, issuers } = await ctx.exchange.organizations.overview(orgId);
  const registration = issuers.find((candidate) => candidate.registrationId === issuerId);
  if (!registration) throw new RialtoError('not_found', 'No such issuer registration in this organization.');
  const policy = storeKit.policyOf(registration);
  // After a refusal the form shows what was typed, so nothing is lost while it is fixed.
  const condition = refused ? text(ctx.form, 'condition') : (policy.condition ?? '');
  const mappings = refused ? text(ctx.form, 'claim_mappings') : prettyMappings(policy.claimMappings);
  const path = `${ctx.base}/organizations/${org.orgId}/issuers/${registration.registrationId}`;
  const body = html`<section class="card" aria-labelledby="registration-heading">
  <h2 id="registration-heading">Registration</h2>
  <dl class="facts">
    <dt>Issuer</dt><dd><code>${registration.issuer}</code></dd>
    <dt>Client ids</dt><dd>${registration.clientIds.length === 0 ? html`<em>any client of the issuer</em>` : registration.clientIds.join(', ')}</dd>
    <dt>Subject claim</dt><dd><code>${registration.subjectClaim}</code></dd>
    <dt>Email linking</dt><dd>${registration.emailLinking}</dd>
    <dt>Link scope</dt><dd>${storeKit.linkScopeOf(registration)}</dd>
    <dt>Algorithms</dt><dd>${registration.allowedAlgorithms.join(', ')}</dd>
    <dt>Policy version</dt><dd>${policy.version}</dd>
    <dt>Updated</dt><dd>${dateCell(registration.updatedAt)}</dd>
  </dl>
</section>
<section class="card" aria-labelledby="policy-heading">
  <h2 id="policy-heading">Exchange policy</h2>
  <p>A CEL <code>condition</code> an ID token's claims must meet, and <code>claim_mappings</code> that add claims to the access token. Each save is a new policy version; an empty field removes it.</p>
  ${errorBox(refused)}
  <form method="post" action="${path}/policy">
    ${csrfField(ctx)}
    <label for="condition">Condition <span class="hint">(CEL, e.g. <code>claims.hd == "partner.example"</code>)</span></label>
    <textarea id="condition" name="condition" rows="3" spellcheck="false" autocomplete="off">${condition}</textarea>
    <label for="claim_mappings">Claim mappings <span class="hint">(JSON object: claim name to CEL expression)</span></label>
    <textarea id="claim_mappings" name="claim_mappings" rows="5" spellcheck="false" autocomplete="off" placeholder='{"department": "claims.department"}'>${mappings}</textarea>
    ${linkScopeField(refused ? text(ctx.form, 'link_scope') : storeKit.linkScopeOf(registration))}
    <button type="submit">Save policy</button>
  </form>
</section>`;
  return page(ctx, {
    title: registration.issuer,
    section: 'organizations',
    body,
    status: refused?.status,
    trail: [
      ['Organizations', '/organizations'],
      [org.name, `/organizations/${org.orgId}`],
    ],
  });
}

export async function saveIssuerPolicy(ctx: ScreenContext): Promise<ConsoleResponse> {
  const orgId = ctx.params.orgId ?? '';
  const issuerId = ctx.params.issuerId ?? '';
  let patch: IssuerPolicyPatch;
  try {
    const condition = text(ctx.form, 'condition').trim();
    // Both fields are always sent: a cleared one is removed, as `null` does in the PATCH body.
    patch = {
      condition: condition === '' ? null : condition,
      claim_mappings: claimMappingsField(ctx.form) ?? null,
      link_scope: optionalText(ctx.form, 'link_scope') as IssuerPolicyPatch['link_scope'],
    };
  } catch (error) {
    return issuerScreen(ctx, refusal(error));
  }
  return write(
    () => ctx.exchange.issuers.updatePolicy(orgId, issuerId, patch),
    `${ctx.base}/organizations/${orgId}/issuers/${issuerId}?done=policy`,
    (error) => issuerScreen(ctx, error),
  );
}

/**
 * The linking scope choice of the add and policy forms; the facade checks the value. Empty selects
 * nothing, so a new registration takes the service's default (`issuer`).
 */
export function linkScopeField(selected: string) {
  return html`<label for="link_scope">Link scope <span class="hint">(<code>issuer</code>: email links only to users first seen through this issuer; <code>org</code>: to any of the organization's users)</span></label>
    <select id="link_scope" name="link_scope">
      ${(['issuer', 'org'] as const).map(
        (value) =>
          html`<option value="${value}"${selected === value ? html` selected` : ''}>${value}</option>`,
      )}
    </select>`;
}
