/**
 * Runs the example receiver: RIALTO_WEBHOOK_SECRET=whsec_… PORT=4000 npx tsx examples/webhook-receiver/index.ts
 * Then register http(s)://<this host>/webhooks/rialto with POST /notifications/webhooks.
 */
import { createWebhookReceiver } from './receiver.js';

const secret = process.env.RIALTO_WEBHOOK_SECRET;
if (!secret) throw new Error('Set RIALTO_WEBHOOK_SECRET to the signing_secret of your webhook.');

const port = Number(process.env.PORT ?? 4000);
createWebhookReceiver({
  secret,
  onEvent(event) {
    if (event.type === 'kyc.session.approved') console.log(`user ${event.data.user_id} passed KYC`);
    else console.log(`received ${event.type}`);
  },
}).listen(port, () => console.log(`webhook receiver on http://localhost:${port}/webhooks/rialto`));
