import { html } from '../html.js';
import { type ConsoleResponse, documentShell, htmlResponse } from '../responses.js';

export interface SignInView {
  base: string;
  /** The pre-session token the form echoes, bound to the sign-in cookie. */
  formToken: string;
  hasAdminToken: boolean;
  error?: string;
  notice?: string;
  status?: number;
}

export function signInScreen(view: SignInView, headers: Record<string, string | string[]>): ConsoleResponse {
  const body = html`<main id="main" class="sign-in">
  <h1>Rialto console</h1>
  ${view.notice && html`<p class="notice" role="status">${view.notice}</p>`}
  ${view.error && html`<div class="error" role="alert"><p>${view.error}</p></div>`}
  ${
    view.hasAdminToken
      ? html`<form method="post" action="${view.base}/sign-in" class="card">
    <input type="hidden" name="csrf" value="${view.formToken}">
    <label for="admin_token">Admin token</label>
    <input id="admin_token" name="admin_token" type="password" required autocomplete="current-password" autofocus>
    <button type="submit">Sign in</button>
  </form>
  <p class="hint">The token your service's <code>adminToken</code> option (or <code>RIALTO_ADMIN_TOKEN</code>) holds. It is checked once and never stored in the browser.</p>`
      : html`<p>This console signs in through the host application. Sign in there, then reload this page.</p>`
  }
</main>`;
  return htmlResponse(view.status ?? 200, documentShell('Sign in', view.base, body), headers);
}
