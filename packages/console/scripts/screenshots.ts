/**
 * Screenshots of the console's main screens for docs/console.md, taken in Debian's chromium against
 * the real router, dev IdP and webhook receiver (the browser tests' harness):
 *
 *   pnpm console:screenshots
 *
 * Writes docs/console/*.png (desktop, 1280 px wide) and the 360 px wide docs/console/*-360.png. The API
 * key of the "shown once" screen is masked: it belonged to a throwaway instance, but a key in a
 * picture teaches the wrong habit.
 */
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { launchChromium } from '../test/browser.js';
import { startConsoleHarness } from '../test/console-harness.js';

const outDir = fileURLToPath(new URL('../../../docs/console/', import.meta.url));
const harness = await startConsoleHarness();
const desktop = await launchChromium({ width: 1280, height: 800 });
const narrow = await launchChromium({ width: 360, height: 740 });

async function shoot(page: Page, name: string, mask: ReturnType<Page['locator']>[] = []) {
  await page.screenshot({ path: `${outDir}${name}.png`, fullPage: true, mask });
  console.log(`docs/console/${name}.png`);
}

try {
  const page = await desktop.context.newPage();
  page.on('dialog', (dialog) => void dialog.accept());
  const at = (path: string) => page.goto(`${harness.consoleUrl}${path}`);
  await at('/sign-in');
  await shoot(page, 'sign-in');
  await page.getByLabel('Admin token').fill(harness.adminToken);
  await page.getByRole('button', { name: 'Sign in' }).click();

  // A few organizations, one of them created through the form.
  for (const name of ['Northwind Securities', 'Globex Markets']) {
    await harness.exchange.organizations.register({
      name,
      issuer: `${harness.secondIdp.issuer}/${name.split(' ')[0]?.toLowerCase()}`,
    });
  }
  await at('/organizations');
  await page.getByLabel('Name', { exact: true }).fill('Acme Capital');
  await page.getByLabel('Issuer URL of its identity provider').fill(harness.idp.issuer);
  await page.getByLabel(/^Client ids/).fill(harness.idp.clientId);
  await page.getByLabel(/^Audiences/).fill('primary-issuance');
  await page.getByRole('button', { name: 'Register' }).click();
  const apiKey = await page.getByRole('textbox', { name: 'API key' }).inputValue();
  await shoot(page, 'organization-created', [page.getByRole('textbox', { name: 'API key' })]);
  await page.getByRole('link', { name: 'Open Acme Capital' }).click();
  const orgPath = new URL(page.url()).pathname.replace('/rialto-admin', '');
  const orgId = orgPath.split('/').at(-1) ?? '';

  // Users by real exchanges, and a webhook subscription with a delivery.
  for (const email of ['ada@example.com', 'grace@example.com', 'katherine@example.com']) {
    await fetch(`${harness.baseUrl}/identity/auth/exchange`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
      body: JSON.stringify({ token: await harness.idp.getIdToken({ email }) }),
    });
  }
  await fetch(`${harness.baseUrl}/notifications/webhooks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
    body: JSON.stringify({ url: harness.receiverUrl, eventTypes: ['*'] }),
  });
  const users = await harness.exchange.users.list(orgId, { query: 'ada@' });
  const ada = users.items[0];
  if (ada) await harness.exchange.users.update(orgId, ada.userId, { kycStatus: 'approved' });
  await new Promise((resolve) => setTimeout(resolve, 1500));

  await at('/organizations');
  await shoot(page, 'organizations');
  await at(orgPath);
  await shoot(page, 'organization');
  await at(`${orgPath}/users`);
  await shoot(page, 'users');
  await at(`${orgPath}/users/${ada?.userId}`);
  await shoot(page, 'user');
  const [webhook] = await harness.exchange.webhooks.listSubscriptions(orgId);
  await at(`${orgPath}/webhooks/${webhook?.subscriptionId}`);
  await shoot(page, 'webhook-deliveries');
  await at('/keys');
  await shoot(page, 'signing-keys');
  const [registration] = await harness.exchange.issuers.list(orgId);
  await harness.exchange.issuers.updatePolicy(orgId, registration?.registrationId ?? '', {
    claim_mappings: { department: 'claims.department' },
  });
  const issuerPath = `${orgPath}/issuers/${registration?.registrationId}`;
  await at(issuerPath);
  // The policy screen as an operator sees a refused condition: the API's error, inline, with its position.
  await page.getByLabel(/^Condition/).fill('claims.email_verified ==');
  await page.getByRole('button', { name: 'Save policy' }).click();
  await page.getByRole('alert').waitFor();
  await shoot(page, 'issuer-policy');
  await at(`/debugger?org_id=${orgId}`);
  await page.getByLabel('Find the organization by name or id').fill('a');
  await page.getByRole('button', { name: 'Find' }).click();
  await page
    .getByLabel('ID token')
    .fill(await harness.secondIdp.getIdToken({ email: 'eve@example.com' }, { clientId: 'second-app' }));
  await page.getByRole('button', { name: 'Explain' }).click();
  await shoot(page, 'token-debugger');
  await at('/health');
  await shoot(page, 'health');

  const small = await narrow.context.newPage();
  await small.context().addCookies(await desktop.context.cookies());
  await small.goto(`${harness.consoleUrl}${orgPath}`);
  await shoot(small, 'organization-360');
  await small.goto(`${harness.consoleUrl}${issuerPath}`);
  await shoot(small, 'issuer-policy-360');
} finally {
  await Promise.all([desktop.close(), narrow.close()]);
  await harness.close();
}
