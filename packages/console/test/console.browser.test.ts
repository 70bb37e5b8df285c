import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LaunchedBrowser, launchChromium, seriousViolations } from './browser.js';
import { type ConsoleHarness, startConsoleHarness } from './console-harness.js';
import { ensureHttpReference } from './http-reference-assets.js';

/**
 * An operator's day in a real Chromium against the real router, a real OpenID provider and a real
 * webhook receiver: sign in, register an organization, add an issuer, find the user an exchange
 * created, change a flag and see the webhook arrive, revoke the key, debug a broken token, sign out.
 * Each screen is checked with axe-core on the way.
 */
describe('the console in Chromium', () => {
  let harness: ConsoleHarness;
  let launched: LaunchedBrowser;
  let page: Page;
  const cspViolations: string[] = [];
  const screensChecked: string[] = [];
  let orgId: string;
  let apiKey: string;
  let userId: string;

  async function expectAccessible(screen: string) {
    expect(await seriousViolations(page), `axe on ${screen}`).toEqual([]);
    screensChecked.push(screen);
  }

  async function exchangeToken(key: string, email: string) {
    const response = await fetch(`${harness.baseUrl}/identity/auth/exchange`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': key },
      body: JSON.stringify({ token: await harness.idp.getIdToken({ email }) }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, string> };
  }

  beforeAll(async () => {
    ensureHttpReference();
    [harness, launched] = await Promise.all([startConsoleHarness(), launchChromium()]);
    page = await launched.context.newPage();
    page.setDefaultTimeout(10_000);
    page.on('dialog', (dialog) => void dialog.accept());
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
    });
  });

  afterAll(async () => {
    await launched?.close();
    await harness?.close();
  });

  it('refuses a wrong admin token and signs in with the right one', async () => {
    await page.goto(`${harness.consoleUrl}/organizations`);
    expect(new URL(page.url()).pathname).toBe('/rialto-admin/sign-in');
    await expectAccessible('sign-in');
    await page.getByLabel('Admin token').fill('not-the-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('That is not the admin token.');

    await page.getByLabel('Admin token').fill(harness.adminToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Organizations', level: 1 }).waitFor();
    const cookies = await launched.context.cookies();
    const session = cookies.find((cookie) => cookie.name === 'rialto_console_session');
    expect(session).toMatchObject({
      httpOnly: true,
      sameSite: 'Strict',
      secure: false,
      path: '/rialto-admin',
    });
    // The admin token is never in the page or its cookies.
    expect(await page.content()).not.toContain(harness.adminToken);
    expect(JSON.stringify(cookies)).not.toContain(harness.adminToken);
    await expectAccessible('organizations');
  });

  it('shows a refused registration inline, then registers and shows the API key once', async () => {
    await page.getByLabel('Name', { exact: true }).fill('Acme Capital');
    await page.getByLabel('Issuer URL of its identity provider').fill(harness.idp.issuer);
    await page.getByLabel(/^Audiences/).fill('not an audience');
    await page.getByRole('button', { name: 'Register' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/invalid_request.*audience/);
    // What was typed is kept.
    expect(await page.getByLabel('Name', { exact: true }).inputValue()).toBe('Acme Capital');

    await page.getByLabel(/^Audiences/).fill('primary-issuance');
    await page.getByLabel(/^Client ids/).fill(harness.idp.clientId);
    await page.getByRole('button', { name: 'Register' }).click();
    await page.getByRole('heading', { name: 'Acme Capital registered' }).waitFor();
    apiKey = await page.getByRole('textbox', { name: 'API key' }).inputValue();
    expect(apiKey).toMatch(/^rialto_ak_/);
    expect(await page.getByText('Shown once.').isVisible()).toBe(true);
    await expectAccessible('organization registered (key shown once)');

    await page.getByRole('link', { name: 'Open Acme Capital' }).click();
    await page.getByRole('heading', { name: 'Acme Capital', level: 1 }).waitFor();
    orgId = new URL(page.url()).pathname.split('/').at(-1) ?? '';
    expect(await page.content()).not.toContain(apiKey);
    await page.reload();
    expect(await page.content()).not.toContain(apiKey);
    await expectAccessible('organization');
  });

  it('adds an issuer and shows what its discovery document said', async () => {
    await page.getByLabel('Issuer URL', { exact: true }).fill(harness.secondIdp.issuer);
    await page.getByLabel(/^Client ids/).fill('second-app');
    await page.getByRole('button', { name: 'Add issuer' }).click();
    await page.getByRole('heading', { name: 'Issuer added: discovery check' }).waitFor();
    expect(await page.getByRole('status').first().textContent()).toContain(
      `${harness.secondIdp.issuer}/jwks`,
    );
    expect(await page.getByRole('row').filter({ hasText: harness.secondIdp.issuer }).count()).toBe(1);
  });

  it("edits an issuer's policy, with a CEL error shown inline at its position", async () => {
    await page.getByRole('link', { name: `Edit the policy of ${harness.secondIdp.issuer}` }).click();
    await page.getByRole('heading', { name: 'Exchange policy' }).waitFor();
    await page.getByLabel(/^Condition/).fill('claims.email_verified ==');
    await page.getByRole('button', { name: 'Save policy' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/condition: .*line 1, column \d+/);
    await expectAccessible('issuer policy (refused)');
    await page.getByLabel(/^Condition/).fill('claims.email_verified == true');
    await page.getByLabel(/^Claim mappings/).fill('{"department": "claims.department"}');
    await page.getByRole('button', { name: 'Save policy' }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toContain('Policy saved');
    expect(
      await page.getByText('Policy version').locator('xpath=following-sibling::dd[1]').textContent(),
    ).toBe('2');
    await page
      .getByRole('navigation', { name: 'Breadcrumb' })
      .getByRole('link', { name: 'Acme Capital' })
      .click();
    expect(await page.getByRole('row').filter({ hasText: harness.secondIdp.issuer }).textContent()).toContain(
      'condition, 1 mapping',
    );
  });

  it('turns DPoP-bound access tokens on and off for the organization', async () => {
    const setting = page.getByLabel(/^Require DPoP-bound access tokens/);
    await setting.check();
    await page.getByRole('button', { name: 'Save DPoP setting' }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toContain('DPoP setting saved');
    expect((await harness.exchange.organizations.get(orgId))?.dpopBoundAccessTokens).toBe(true);
    expect(await setting.isChecked()).toBe(true);
    await setting.uncheck();
    await page.getByRole('button', { name: 'Save DPoP setting' }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toContain('DPoP setting saved');
    expect((await harness.exchange.organizations.get(orgId))?.dpopBoundAccessTokens).toBe(false);
  });

  it('fits the organization screen into 360 px: wide tables scroll inside their region, the page does not', async () => {
    await page.setViewportSize({ width: 360, height: 740 });
    try {
      await page.reload();
      expect(await page.evaluate('document.documentElement.scrollWidth')).toBe(360);
      await expectAccessible('organization at 360 px');
    } finally {
      await page.setViewportSize({ width: 1280, height: 900 });
    }
  });

  it('finds the user a real exchange created, and its webhook delivery arrives when a flag changes', async () => {
    const exchanged = await exchangeToken(apiKey, 'ada@example.com');
    expect(exchanged.status).toBe(200);
    const claims = JSON.parse(
      Buffer.from(exchanged.body.access_token?.split('.')[1] ?? '', 'base64url').toString(),
    );
    userId = claims.user_id;
    const subscribed = await fetch(`${harness.baseUrl}/notifications/webhooks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
      body: JSON.stringify({ url: harness.receiverUrl, eventTypes: ['kyc.session.approved'] }),
    });
    expect(subscribed.status).toBe(201);

    await page.getByRole('link', { name: 'Users of Acme Capital' }).click();
    await page.getByLabel('Search by email or user id').fill('ada@');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: 'ada@example.com' }).click();
    await page.getByRole('heading', { name: 'ada@example.com', level: 1 }).waitFor();
    // The user the exchange created, by the id in its access token.
    expect(await page.getByText(userId, { exact: true }).isVisible()).toBe(true);
    await expectAccessible('user');

    await page.getByLabel('KYC status').selectOption('approved');
    await page.getByRole('button', { name: 'Save verification' }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toContain('The user is updated.');
    expect(await page.getByText('completed', { exact: true }).isVisible()).toBe(true);
    await expect
      .poll(() => harness.received.map((delivery) => delivery.type), { timeout: 10_000 })
      .toContain('kyc.session.approved');

    await page.goto(`${harness.consoleUrl}/organizations/${orgId}`);
    await page.getByRole('link', { name: harness.receiverUrl }).click();
    await page.getByRole('heading', { name: 'Webhook deliveries' }).waitFor();
    await expect
      .poll(async () => {
        await page.reload();
        return page.getByRole('row').filter({ hasText: 'kyc.session.approved' }).textContent();
      })
      .toContain('succeeded');
    await expectAccessible('webhook deliveries');
  });

  it("shows the user's identity and sessions, and ends one so that its refresh token is refused", async () => {
    const second = await exchangeToken(apiKey, 'ada@example.com');
    expect(second.status).toBe(200);
    const refreshToken = second.body.refresh_token ?? '';
    const family = JSON.parse(Buffer.from(refreshToken.split('.')[1] ?? '', 'base64url').toString()).fid;
    await page.goto(`${harness.consoleUrl}/organizations/${orgId}/users/${userId}`);
    await page.getByRole('heading', { name: 'Sessions' }).waitFor();
    // The header row and the one identity the exchanges linked.
    expect(await page.getByRole('region', { name: 'Identities' }).getByRole('row').count()).toBe(2);
    expect(await page.getByRole('button', { name: /^End this session / }).count()).toBe(2);
    await expectAccessible('user sessions');

    await page.getByRole('button', { name: `End this session ${family}` }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toContain('The session is ended');
    expect(await page.getByRole('button', { name: /^End this session / }).count()).toBe(1);
    const refused = await fetch(`${harness.baseUrl}/identity/auth/refresh`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refresh_token: refreshToken }),
    });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: string }).error).toBe('invalid_grant');
  });

  it('revokes the API key, after which the exchange is refused', async () => {
    await page.goto(`${harness.consoleUrl}/organizations/${orgId}`);
    await page.getByRole('button', { name: /^Revoke key/ }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toContain('The API key is revoked');
    const refused = await exchangeToken(apiKey, 'ada@example.com');
    expect(refused.status).toBe(401);
    expect(refused.body.error).toBe('invalid_api_key');
  });

  it('debugs a broken token step by step, with the fix', async () => {
    await page.getByRole('link', { name: 'Token debugger' }).click();
    await page.getByRole('heading', { name: 'Token debugger', level: 1 }).waitFor();
    await expectAccessible('token debugger');
    // A token of an issuer the organization never registered.
    const stranger = await (await import('@rialto-exchange/dev-idp')).startDevIdp();
    try {
      const token = await stranger.getIdToken({ email: 'eve@example.com' });
      await page.getByLabel('Find the organization by name or id').fill('acme');
      await page.getByRole('button', { name: 'Find' }).click();
      expect(await page.getByRole('radio', { name: /^Acme Capital/ }).isChecked()).toBe(true);
      await page.getByLabel('ID token').fill(token);
      await page.getByRole('button', { name: 'Explain' }).click();
      await page.getByRole('heading', { name: 'The exchange would fail' }).waitFor();
    } finally {
      await stranger.close();
    }
    const failing = page.locator('li.step.fail');
    expect(await failing.locator('h3').textContent()).toContain('issuer');
    expect(await failing.locator('.fix').textContent()).toMatch(/^Fix: .+/);
    await expectAccessible('token debugger result');
  });

  // Redoc parses the whole OpenAPI document in the browser: seconds on a busy CI machine.
  it('serves the HTTP reference from the package, loading nothing from another origin', {
    timeout: 60_000,
  }, async () => {
    // The HTTP reference, in its own tab: Redoc from the package, nothing loaded from another origin
    // (Redoc asks for its CDN logo; the page's CSP blocks it, so that request never finishes).
    const reference = await launched.context.newPage();
    const foreignRequests: string[] = [];
    reference.on('requestfinished', (request) => {
      const url = new URL(request.url());
      if (!['blob:', 'data:'].includes(url.protocol) && url.origin !== new URL(harness.baseUrl).origin)
        foreignRequests.push(request.url());
    });
    await reference.goto(
      await page
        .getByRole('link', { name: 'HTTP reference' })
        .getAttribute('href')
        .then((href) => `${harness.baseUrl}${href}`),
    );
    await reference.getByRole('heading', { name: /^rialto-exchange/, level: 1 }).waitFor({ timeout: 50_000 });
    expect(await reference.getByText('/identity/auth/exchange/explain').count()).toBeGreaterThan(0);
    expect(foreignRequests).toEqual([]);
    await reference.close();
  });

  it('shows signing keys and health, then signs out so the session is over', async () => {
    await page.getByRole('link', { name: 'Signing keys' }).click();
    await page.getByRole('button', { name: 'Rotate signing key' }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toContain('Added key');
    await expectAccessible('signing keys');
    await page.getByRole('link', { name: 'Health' }).click();
    expect(await page.getByText('reachable').isVisible()).toBe(true);
    await expectAccessible('health');

    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toContain('Signed out.');
    await page.goto(`${harness.consoleUrl}/organizations/${orgId}`);
    expect(new URL(page.url()).pathname).toBe('/rialto-admin/sign-in');
    expect(cspViolations).toEqual([]);
    expect(screensChecked.length).toBeGreaterThanOrEqual(9);
  });
});
