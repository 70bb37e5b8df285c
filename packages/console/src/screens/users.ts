import {
  type OrganizationRecord,
  RialtoError,
  type UserRecord,
  verificationFlags,
} from '@rialto-exchange/core';
import { text } from '../form-fields.js';
import { type Html, html } from '../html.js';
import type { ConsoleResponse } from '../responses.js';
import { csrfField, dateCell, errorBox, page, refusal, type ScreenContext, write } from '../screen.js';

const PAGE_SIZE = 50;
const KYC = [
  'not_started',
  'session_created',
  'pii_submitted',
  'processing',
  'resubmission_requested',
  'approved',
  'denied',
];
const ACCREDITATION = ['not_submitted', 'submitted', 'verified', 'rejected'];

async function existingOrg(ctx: ScreenContext): Promise<OrganizationRecord> {
  const org = await ctx.exchange.organizations.get(ctx.params.orgId ?? '');
  if (!org) throw new RialtoError('not_found', 'No such organization.');
  return org;
}

export async function usersScreen(ctx: ScreenContext): Promise<ConsoleResponse> {
  const org = await existingOrg(ctx);
  const query = ctx.query.get('query') ?? '';
  const cursor = ctx.query.get('cursor') ?? undefined;
  let listing: Awaited<ReturnType<typeof ctx.exchange.users.list>>;
  let searchError: RialtoError | undefined;
  try {
    listing = await ctx.exchange.users.list(org.orgId, { query, cursor, limit: PAGE_SIZE });
  } catch (error) {
    searchError = refusal(error);
    listing = { items: [], nextCursor: null };
  }
  const { items: users, nextCursor } = listing;
  const path = `${ctx.base}/organizations/${org.orgId}/users`;
  const next = nextCursor && `${path}?${new URLSearchParams({ query, cursor: nextCursor })}`;
  const body = html`<form method="get" action="${path}" class="search" role="search">
  <label for="query">Search by email or user id</label>
  <div class="inline">
    <input id="query" name="query" type="search" value="${query}" autocomplete="off">
    <button type="submit">Search</button>
  </div>
</form>
${errorBox(searchError)}
${
  users.length === 0
    ? html`<p>${query ? 'No user matches.' : 'No users yet: a first exchange creates them.'}</p>`
    : html`<div class="table-scroll" tabindex="0" role="region" aria-label="Users"><table>
  <thead><tr><th scope="col">Email</th><th scope="col">Role</th><th scope="col">KYC</th><th scope="col">Created</th></tr></thead>
  <tbody>${users.map(
    (user) => html`<tr><td><a href="${path}/${user.userId}">${user.email}</a></td><td>${user.role}</td>
    <td>${user.kycStatus}</td><td>${dateCell(user.createdAt)}</td></tr>`,
  )}</tbody></table></div>`
}
${next && html`<p><a href="${next}" rel="next">Next page</a></p>`}`;
  return page(ctx, {
    title: `Users of ${org.name}`,
    section: 'organizations',
    body,
    status: searchError?.status,
    trail: [
      ['Organizations', '/organizations'],
      [org.name, `/organizations/${org.orgId}`],
    ],
  });
}

function options(values: string[], selected: string): Html[] {
  return values.map(
    (value) => html`<option value="${value}"${value === selected ? html` selected` : ''}>${value}</option>`,
  );
}

type UserForm = 'role' | 'flags' | 'delete' | 'sessions';

async function existingUser(ctx: ScreenContext, org: OrganizationRecord): Promise<UserRecord> {
  const user = await ctx.exchange.users.get(org.orgId, ctx.params.userId ?? '');
  if (!user) throw new RialtoError('not_found', 'No such user in this organization.');
  return user;
}

export async function userScreen(
  ctx: ScreenContext,
  refused?: { form: UserForm; error: RialtoError },
): Promise<ConsoleResponse> {
  const org = await existingOrg(ctx);
  const user = await existingUser(ctx, org);
  const flags = verificationFlags(user);
  const [identities, sessions] = await Promise.all([
    ctx.exchange.users.listIdentities(org.orgId, user.userId),
    ctx.exchange.users.listSessions(org.orgId, user.userId),
  ]);
  const path = `${ctx.base}/organizations/${org.orgId}/users/${user.userId}`;
  const errorFor = (form: UserForm) => errorBox(refused?.form === form ? refused.error : undefined);
  const body = html`<section class="card" aria-labelledby="user-heading">
  <h2 id="user-heading">Profile</h2>
  <dl class="facts">
    <dt>User id</dt><dd><code>${user.userId}</code></dd>
    <dt>Email</dt><dd>${user.email}</dd>
    <dt>Role</dt><dd>${user.role}</dd>
    <dt>Onboarding completed</dt><dd>${flags.onboardingCompleted ? 'yes' : 'no'}</dd>
    <dt>KYC</dt><dd>${user.kycStatus}${flags.kycCompleted && html` <span class="badge ok">completed</span>`}</dd>
    <dt>Accreditation</dt><dd>${user.accreditationStatus}${flags.accreditationVerified && html` <span class="badge ok">verified</span>`}</dd>
    <dt>Created</dt><dd>${dateCell(user.createdAt)}</dd>
    <dt>Updated</dt><dd>${dateCell(user.updatedAt)}</dd>
  </dl>
</section>
<section class="card" aria-labelledby="identities-heading">
  <h2 id="identities-heading">Identities</h2>
  ${
    identities.length === 0
      ? html`<p>No identity is linked yet: the user was created before a first sign-in.</p>`
      : html`<div class="table-scroll" tabindex="0" role="region" aria-label="Identities"><table>
    <thead><tr><th scope="col">Issuer</th><th scope="col">Subject claim</th><th scope="col">Value</th><th scope="col">Linked</th></tr></thead>
    <tbody>${identities.map(
      (identity) =>
        html`<tr><td>${identity.iss}</td><td><code>${identity.subjectClaim}</code></td><td><code>${identity.sub}</code></td><td>${identity.linkedAt === undefined ? 'not recorded' : dateCell(identity.linkedAt)}</td></tr>`,
    )}</tbody></table></div>`
  }
</section>
<section class="card" aria-labelledby="sessions-heading">
  <h2 id="sessions-heading">Sessions</h2>
  ${errorFor('sessions')}
  ${
    sessions.length === 0
      ? html`<p>No session: no refresh token of this user can be used.</p>`
      : html`<div class="table-scroll" tabindex="0" role="region" aria-label="Sessions"><table>
    <thead><tr><th scope="col">Session</th><th scope="col">Last refreshed</th><th scope="col">Expires</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
    <tbody>${sessions.map(
      (
        session,
      ) => html`<tr><td><code>${session.familyId}</code></td><td>${dateCell(session.lastIssuedAt)}</td><td>${dateCell(session.expiresAt)}</td><td>
      <form method="post" action="${path}/sessions/${session.familyId}/end" data-confirm="End this session? Its refresh token stops working at once.">
        ${csrfField(ctx)}<button type="submit" class="danger" aria-label="End this session ${session.familyId}">End this session</button>
      </form></td></tr>`,
    )}</tbody></table></div>
  <form method="post" action="${path}/sessions/end-all" data-confirm="End all sessions of ${user.email}? Every refresh token of the user stops working at once.">
    ${csrfField(ctx)}<button type="submit" class="danger">End all sessions</button>
  </form>`
  }
  <p>Access tokens already issued stay valid until they expire.</p>
</section>
<section class="card" aria-labelledby="role-heading">
  <h2 id="role-heading">Role</h2>
  ${errorFor('role')}
  <form method="post" action="${path}/role">
    ${csrfField(ctx)}
    <label for="role">Role in ${org.name}</label>
    <div class="inline">
      <select id="role" name="role">${options(['member', 'org_admin'], user.role)}</select>
      <button type="submit">Save role</button>
    </div>
  </form>
</section>
<section class="card" aria-labelledby="flags-heading">
  <h2 id="flags-heading">Verification</h2>
  ${errorFor('flags')}
  <form method="post" action="${path}/flags">
    ${csrfField(ctx)}
    <div class="check"><input type="checkbox" id="onboarding_completed" name="onboarding_completed" value="true"${user.onboardingCompleted ? html` checked` : ''}>
    <label for="onboarding_completed">Onboarding completed</label></div>
    <label for="kyc_status">KYC status</label>
    <select id="kyc_status" name="kyc_status">${options(KYC, user.kycStatus)}</select>
    <label for="accreditation_status">Accreditation status</label>
    <select id="accreditation_status" name="accreditation_status">${options(ACCREDITATION, user.accreditationStatus)}</select>
    <button type="submit">Save verification</button>
  </form>
</section>
<section class="card danger-zone" aria-labelledby="delete-user-heading">
  <h2 id="delete-user-heading">Delete this user</h2>
  <p>Erases the user, its identity links and email; its refresh tokens stop working at once.</p>
  ${errorFor('delete')}
  <form method="post" action="${path}/delete" data-confirm="Delete ${user.email}? This cannot be undone.">
    ${csrfField(ctx)}<button type="submit" class="danger">Delete user</button>
  </form>
</section>`;
  return page(ctx, {
    title: user.email,
    section: 'organizations',
    body,
    status: refused?.error.status,
    trail: [
      ['Organizations', '/organizations'],
      [org.name, `/organizations/${org.orgId}`],
      ['Users', `/organizations/${org.orgId}/users`],
    ],
  });
}

function userWrite(
  form: UserForm,
  action: (ctx: ScreenContext, orgId: string, userId: string) => Promise<unknown>,
  done = 'user-updated',
) {
  return async (ctx: ScreenContext): Promise<ConsoleResponse> => {
    const orgId = ctx.params.orgId ?? '';
    const userId = ctx.params.userId ?? '';
    const then =
      form === 'delete'
        ? `${ctx.base}/organizations/${orgId}/users?done=user-deleted`
        : `${ctx.base}/organizations/${orgId}/users/${userId}?done=${done}`;
    return write(
      () => action(ctx, orgId, userId),
      then,
      (error) => userScreen(ctx, { form, error }),
    );
  };
}

export const setUserRole = userWrite('role', (ctx, orgId, userId) =>
  ctx.exchange.users.setRole(orgId, userId, text(ctx.form, 'role') as 'member'),
);
export const setUserFlags = userWrite('flags', (ctx, orgId, userId) =>
  ctx.exchange.users.update(orgId, userId, {
    onboardingCompleted: ctx.form.get('onboarding_completed') === 'true',
    kycStatus: text(ctx.form, 'kyc_status') as 'approved',
    accreditationStatus: text(ctx.form, 'accreditation_status') as 'verified',
  }),
);
export const endUserSession = userWrite(
  'sessions',
  (ctx, orgId, userId) => ctx.exchange.users.endSession(orgId, userId, ctx.params.sessionId ?? ''),
  'session-ended',
);
export const endAllUserSessions = userWrite(
  'sessions',
  (ctx, orgId, userId) => ctx.exchange.users.endAllSessions(orgId, userId),
  'sessions-ended',
);
export const deleteUser = userWrite('delete', (ctx, orgId, userId) =>
  ctx.exchange.users.remove(orgId, userId),
);
