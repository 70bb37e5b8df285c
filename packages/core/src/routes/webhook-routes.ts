import { RialtoError } from '../errors.js';
import type { RequestLike } from '../http-types.js';
import { epochSeconds } from '../internal/clock.js';
import { json } from '../internal/http.js';
import { isUuid, parseBody, type Route } from '../internal/route.js';
import type { Services } from '../services.js';
import { webhookEvent } from '../webhooks/event-catalogue.js';
import { webhookCreationSchema, webhookEventTypesSchema } from '../webhooks/webhook-subscriptions.js';
import { isoTime, webhookDeliveryJson, webhookSubscriptionJson } from '../wire-format.js';

// The deliveries log shows the recent past; older rows stay in the store but are not listed.
const DELIVERIES_LISTED = 50;

/**
 * `/notifications/webhooks`: an organization manages its own subscriptions with its API key or an
 * access token of one of its org admins; a plain user's token is refused, since a subscription
 * receives every user's events. Everything is scoped by the caller's org; another org's webhook is 404.
 */
export function webhookRoutes({
  orgAccess,
  webhookSubscriptions,
  deliveryWorker,
  options,
}: Services): Route[] {
  function orgOf(request: RequestLike): Promise<string> {
    return orgAccess.requireOrgWide(request);
  }

  function subscriptionId(id: string | undefined): string {
    if (!isUuid(id)) throw new RialtoError('not_found', 'No such webhook in your organization.');
    return id;
  }

  return [
    {
      method: 'POST',
      pattern: /^\/notifications\/webhooks$/,
      scheme: 'bearer',
      async run(request) {
        const orgId = await orgOf(request);
        const { subscription, secret } = await webhookSubscriptions.create(
          orgId,
          parseBody(webhookCreationSchema, request),
        );
        return json(201, {
          id: subscription.subscriptionId,
          url: subscription.url,
          description: subscription.description,
          eventTypes: subscription.eventTypes,
          signing_secret: secret,
          created_at: isoTime(subscription.createdAt),
        });
      },
    },
    {
      method: 'GET',
      pattern: /^\/notifications\/webhooks$/,
      scheme: 'bearer',
      async run(request) {
        const subscriptions = await webhookSubscriptions.list(await orgOf(request));
        return json(200, { webhooks: subscriptions.map(webhookSubscriptionJson) });
      },
    },
    {
      method: 'GET',
      pattern: /^\/notifications\/webhooks\/([^/]+)$/,
      scheme: 'bearer',
      async run(request, [id]) {
        const orgId = await orgOf(request);
        return json(200, webhookSubscriptionJson(await webhookSubscriptions.get(orgId, subscriptionId(id))));
      },
    },
    {
      method: 'DELETE',
      pattern: /^\/notifications\/webhooks\/([^/]+)$/,
      scheme: 'bearer',
      async run(request, [id]) {
        const orgId = await orgOf(request);
        await webhookSubscriptions.remove(orgId, subscriptionId(id));
        return json(200, { id, deleted: true });
      },
    },
    {
      method: 'PUT',
      pattern: /^\/notifications\/webhooks\/([^/]+)\/subscriptions$/,
      scheme: 'bearer',
      async run(request, [id]) {
        const orgId = await orgOf(request);
        const { eventTypes } = parseBody(webhookEventTypesSchema, request);
        const updated = await webhookSubscriptions.setEventTypes(orgId, subscriptionId(id), eventTypes);
        return json(200, webhookSubscriptionJson(updated));
      },
    },
    {
      method: 'POST',
      pattern: /^\/notifications\/webhooks\/([^/]+)\/rotate-secret$/,
      scheme: 'bearer',
      async run(request, [id]) {
        const orgId = await orgOf(request);
        const { subscription, secret } = await webhookSubscriptions.rotateSecret(orgId, subscriptionId(id));
        return json(200, { id: subscription.subscriptionId, signing_secret: secret });
      },
    },
    {
      method: 'POST',
      pattern: /^\/notifications\/webhooks\/([^/]+)\/test$/,
      scheme: 'bearer',
      async run(request, [id]) {
        const orgId = await orgOf(request);
        const subscription = await webhookSubscriptions.get(orgId, subscriptionId(id));
        const ping = webhookEvent(
          'test.ping',
          orgId,
          { webhook_id: subscription.subscriptionId },
          epochSeconds(),
        );
        return json(200, webhookDeliveryJson(await deliveryWorker.deliverNow(subscription, ping)));
      },
    },
    {
      method: 'GET',
      pattern: /^\/notifications\/webhooks\/([^/]+)\/deliveries$/,
      scheme: 'bearer',
      async run(request, [id]) {
        const orgId = await orgOf(request);
        const subscription = await webhookSubscriptions.get(orgId, subscriptionId(id));
        const deliveries = await options.store.listWebhookDeliveries(
          orgId,
          subscription.subscriptionId,
          DELIVERIES_LISTED,
        );
        return json(200, { deliveries: deliveries.map(webhookDeliveryJson) });
      },
    },
  ];
}
