import type { RialtoExchange } from '@rialto-exchange/core';
import { RialtoError } from '@rialto-exchange/core';
import { type Html, html } from './html.js';
import { type ConsoleResponse, documentShell, htmlResponse, redirect } from './responses.js';

/** What every screen gets: the exchange, where the console lives, and the signed-in session's CSRF token. */
export interface ScreenContext {
  exchange: RialtoExchange;
  /** The console's path, e.g. `/rialto-admin`; every link and form starts with it. */
  base: string;
  csrfToken: string;
  params: Record<string, string>;
  query: URLSearchParams;
  /** The submitted form of a POST; empty for a GET. */
  form: URLSearchParams;
}

export type Screen = (ctx: ScreenContext) => Promise<ConsoleResponse>;

type Section = 'organizations' | 'keys' | 'debugger' | 'health' | 'reference';

const SECTIONS: Array<[Section, string, string]> = [
  ['organizations', 'Organizations', '/organizations'],
  ['keys', 'Signing keys', '/keys'],
  ['debugger', 'Token debugger', '/debugger'],
  ['health', 'Health', '/health'],
  ['reference', 'HTTP reference', '/reference/'],
];

/** Every form carries the session's synchronizer token; the console refuses a POST without it. */
export function csrfField(ctx: ScreenContext): Html {
  return html`<input type="hidden" name="csrf" value="${ctx.csrfToken}">`;
}

export interface PageInput {
  title: string;
  section: Section;
  body: Html;
  status?: number;
  /** Breadcrumb links above the title, as [label, path under the console]. */
  trail?: Array<[string, string]>;
}

/** Success messages named by the `done` query parameter a write redirects with. */
const NOTICES: Record<string, string> = {
  suspended: 'The organization is suspended: its exchanges and refreshes are refused.',
  resumed: 'The organization is active again.',
  deleted: 'The organization and everything stored for it were deleted.',
  provisioning: 'Provisioning mode saved.',
  audience: 'Audiences saved.',
  dpop: 'DPoP setting saved: it applies to the next exchange or refresh.',
  policy: 'Policy saved as a new version: the next exchange applies it.',
  'key-revoked': 'The API key is revoked; it stops working on every instance within the lookup cache TTL.',
  'issuer-removed': 'The issuer registration is removed.',
  'user-updated': 'The user is updated.',
  'user-deleted': 'The user is deleted.',
  'session-ended': 'The session is ended: its refresh token stops working at once.',
  'sessions-ended': "The user's sessions are ended: their refresh tokens stop working at once.",
  redelivered: 'The delivery is queued again; the worker sends it on its next pass.',
  rotated:
    'A new signing key was added. It is published now and signs once its pre-publication delay has passed.',
};

export function page(ctx: ScreenContext, input: PageInput): ConsoleResponse {
  const notice = NOTICES[ctx.query.get('done') ?? ''];
  const body = html`<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <a class="brand" href="${ctx.base}/organizations">Rialto console</a>
  <nav aria-label="Sections">
    <ul>
      ${SECTIONS.map(
        ([section, label, path]) =>
          html`<li><a href="${ctx.base}${path}"${section === input.section ? html` aria-current="page"` : ''}>${label}</a></li>`,
      )}
    </ul>
  </nav>
  <form method="post" action="${ctx.base}/sign-out" class="sign-out">${csrfField(ctx)}<button type="submit">Sign out</button></form>
</header>
<main id="main">
  ${
    input.trail &&
    html`<nav aria-label="Breadcrumb" class="trail"><ol>${input.trail.map(
      ([label, path]) => html`<li><a href="${ctx.base}${path}">${label}</a></li>`,
    )}</ol></nav>`
  }
  <h1>${input.title}</h1>
  ${notice && html`<p class="notice" role="status">${notice}</p>`}
  ${input.body}
</main>`;
  return htmlResponse(input.status ?? 200, documentShell(input.title, ctx.base, body));
}

/** An inline error box: what the facade refused, in its own words (they name the offending field). */
export function errorBox(error: RialtoError | undefined): Html {
  return html`${
    error &&
    html`<div class="error" role="alert"><p><strong>${error.code}</strong>: ${error.description}</p></div>`
  }`;
}

/**
 * Runs a write; on success redirects to `then`, on a refusal the facade explains (validation,
 * not found, conflict) re-renders with the error inline and its status. Anything else is a fault
 * and propagates.
 */
export async function write(
  action: () => Promise<unknown>,
  then: string,
  rerender: (error: RialtoError) => Promise<ConsoleResponse>,
): Promise<ConsoleResponse> {
  try {
    await action();
  } catch (error) {
    if (error instanceof RialtoError && error.status < 500) return rerender(error);
    throw error;
  }
  return redirect(then);
}

export function refusal(error: unknown): RialtoError | undefined {
  if (error instanceof RialtoError && error.status < 500) return error;
  throw error;
}

export function isoDate(epochSeconds: number | null | undefined): string {
  return epochSeconds === null || epochSeconds === undefined
    ? '—'
    : new Date(epochSeconds * 1000).toISOString().replace('.000Z', 'Z');
}

export function dateCell(epochSeconds: number | null | undefined): Html {
  const text = isoDate(epochSeconds);
  return epochSeconds ? html`<time datetime="${text}">${text.replace('T', ' ')}</time>` : html`${text}`;
}

/** A secret shown once: its value, a copy button (the script enhances it) and the warning. */
export function shownOnce(label: string, value: string, warning: string): Html {
  return html`<section class="once" aria-labelledby="once-label">
  <h2 id="once-label">${label}</h2>
  <p class="warning"><strong>Shown once.</strong> ${warning}</p>
  <div class="secret">
    <label for="once-value" class="visually-hidden">${label}</label>
    <input id="once-value" readonly value="${value}" spellcheck="false" autocomplete="off">
    <button type="button" class="copy" data-copy="once-value">Copy</button>
  </div>
</section>`;
}
