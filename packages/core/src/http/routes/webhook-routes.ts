import { RialtoError } from '../../errors.js';
import type { FacadeGroups } from '../../facade/index.js';
import { epochSeconds } from '../../internal/clock.js';
import { isUuid } from '../../internal/is-uuid.js';
import type { Services } from '../../services.js';
import { webhookEvent } from '../../webhooks/event-catalogue.js';
import { webhookCreationSchema, webhookEventTypesSchema } from '../../webhooks/webhook-subscriptions.js';
import { respond } from '../messages.js';
import { declareRoute, type Route } from '../route.js';
import {
  isoTime,
  webhookCreatedResponseSchema,
  webhookDeletedResponseSchema,
  webhookDeliveriesResponseSchema,
  webhookDeliveryJson,
  webhookDeliveryResponseSchema,
  webhookListResponseSchema,
  webhookSecretResponseSchema,
  webhookSubscriptionJson,
  webhookSubscriptionResponseSchema,
} from '../wire-format.js';

/**
 * `/notifications/webhooks`: an organization manages its own subscriptions with its API key or an
 * access token of one of its org admins; a plain user's token is refused, since a subscription
 * receives every user's events. Everything is scoped by the caller's org; another org's webhook is 404.
 */
export function webhookRoutes(
  { webhookSubscriptions, deliveryWorker }: Services,
  { webhooks }: FacadeGroups,
): Route[] {
  function subscriptionId(id: string | undefined): string {
    if (!isUuid(id)) throw new RialtoError('not_found', 'No such webhook in your organization.');
    return id;
  }

  return [
    declareRoute({
      route: 'POST /notifications/webhooks',
      credentials: ['apiKey', 'orgAdminToken'],
      body: webhookCreationSchema,
      operationId: 'createWebhook',
      summary: 'Subscribe a URL to events of your organization; the signing secret is shown only here',
      tag: 'Webhooks',
      responses: { 201: webhookCreatedResponseSchema },
      errors: ['temporarily_unavailable', 'invalid_request'],
      async run(_request, _params, { orgId }, creation) {
        const { subscription, secret } = await webhookSubscriptions.create(orgId, creation);
        return respond(201, webhookCreatedResponseSchema, {
          id: subscription.subscriptionId,
          url: subscription.url,
          description: subscription.description,
          eventTypes: subscription.eventTypes,
          signing_secret: secret,
          created_at: isoTime(subscription.createdAt),
        });
      },
    }),
    declareRoute({
      route: 'GET /notifications/webhooks',
      credentials: ['apiKey', 'orgAdminToken'],
      operationId: 'listWebhooks',
      summary: "List your organization's webhook subscriptions",
      tag: 'Webhooks',
      responses: { 200: webhookListResponseSchema },
      errors: ['temporarily_unavailable'],
      async run(_request, _params, { orgId }) {
        const subscriptions = await webhookSubscriptions.list(orgId);
        return respond(200, webhookListResponseSchema, {
          webhooks: subscriptions.map(webhookSubscriptionJson),
        });
      },
    }),
    declareRoute({
      route: 'GET /notifications/webhooks/{webhook_id}',
      credentials: ['apiKey', 'orgAdminToken'],
      operationId: 'getWebhook',
      summary: 'Read a webhook subscription',
      tag: 'Webhooks',
      responses: { 200: webhookSubscriptionResponseSchema },
      errors: ['not_found', 'temporarily_unavailable'],
      async run(_request, { webhook_id }, { orgId }) {
        return respond(
          200,
          webhookSubscriptionResponseSchema,
          webhookSubscriptionJson(await webhookSubscriptions.get(orgId, subscriptionId(webhook_id))),
        );
      },
    }),
    declareRoute({
      route: 'DELETE /notifications/webhooks/{webhook_id}',
      credentials: ['apiKey', 'orgAdminToken'],
      operationId: 'deleteWebhook',
      summary: 'Delete a webhook subscription',
      tag: 'Webhooks',
      responses: { 200: webhookDeletedResponseSchema },
      errors: ['not_found', 'temporarily_unavailable'],
      async run(_request, { webhook_id }, { orgId }) {
        const removedId = subscriptionId(webhook_id);
        await webhookSubscriptions.remove(orgId, removedId);
        return respond(200, webhookDeletedResponseSchema, { id: removedId, deleted: true });
      },
    }),
    declareRoute({
      route: 'PUT /notifications/webhooks/{webhook_id}/subscriptions',
      credentials: ['apiKey', 'orgAdminToken'],
      body: webhookEventTypesSchema,
      operationId: 'setWebhookEventTypes',
      summary: 'Replace the event types a subscription receives',
      tag: 'Webhooks',
      responses: { 200: webhookSubscriptionResponseSchema },
      errors: ['not_found', 'temporarily_unavailable', 'invalid_request'],
      async run(_request, { webhook_id }, { orgId }, { eventTypes }) {
        const updated = await webhookSubscriptions.setEventTypes(
          orgId,
          subscriptionId(webhook_id),
          eventTypes,
        );
        return respond(200, webhookSubscriptionResponseSchema, webhookSubscriptionJson(updated));
      },
    }),
    declareRoute({
      route: 'POST /notifications/webhooks/{webhook_id}/rotate-secret',
      credentials: ['apiKey', 'orgAdminToken'],
      operationId: 'rotateWebhookSecret',
      summary: "Replace a subscription's signing secret; the new one is shown only here",
      tag: 'Webhooks',
      responses: { 200: webhookSecretResponseSchema },
      errors: ['not_found', 'temporarily_unavailable'],
      async run(_request, { webhook_id }, { orgId }) {
        const { subscription, secret } = await webhookSubscriptions.rotateSecret(
          orgId,
          subscriptionId(webhook_id),
        );
        return respond(200, webhookSecretResponseSchema, {
          id: subscription.subscriptionId,
          signing_secret: secret,
        });
      },
    }),
    declareRoute({
      route: 'POST /notifications/webhooks/{webhook_id}/test',
      credentials: ['apiKey', 'orgAdminToken'],
      operationId: 'testWebhook',
      summary: 'Deliver a test.ping event now and report the attempt',
      tag: 'Webhooks',
      responses: { 200: webhookDeliveryResponseSchema },
      errors: ['not_found', 'temporarily_unavailable'],
      async run(_request, { webhook_id }, { orgId }) {
        const subscription = await webhookSubscriptions.get(orgId, subscriptionId(webhook_id));
        const ping = webhookEvent(
          'test.ping',
          orgId,
          { webhook_id: subscription.subscriptionId },
          epochSeconds(),
        );
        return respond(
          200,
          webhookDeliveryResponseSchema,
          webhookDeliveryJson(await deliveryWorker.deliverNow(subscription, ping)),
        );
      },
    }),
    declareRoute({
      route: 'GET /notifications/webhooks/{webhook_id}/deliveries',
      credentials: ['apiKey', 'orgAdminToken'],
      operationId: 'listWebhookDeliveries',
      summary: "List a subscription's most recent deliveries (50 at most)",
      tag: 'Webhooks',
      responses: { 200: webhookDeliveriesResponseSchema },
      errors: ['not_found', 'temporarily_unavailable'],
      async run(_request, { webhook_id }, { orgId }) {
        const deliveries = await webhookSubscriptions.listDeliveries(orgId, subscriptionId(webhook_id));
        return respond(200, webhookDeliveriesResponseSchema, {
          deliveries: deliveries.map(webhookDeliveryJson),
        });
      },
    }),
    declareRoute({
      route: 'POST /notifications/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver',
      credentials: ['apiKey', 'orgAdminToken'],
      operationId: 'redeliverWebhookDelivery',
      summary: 'Deliver a delivery again: due now, attempts kept (unless an attempt is under way)',
      tag: 'Webhooks',
      responses: { 200: webhookDeliveryResponseSchema },
      errors: ['not_found', 'temporarily_unavailable'],
      async run(_request, { webhook_id, delivery_id }, { orgId }) {
        const delivery = await webhooks.redeliver(orgId, webhook_id, delivery_id);
        return respond(200, webhookDeliveryResponseSchema, webhookDeliveryJson(delivery));
      },
    }),
  ];
}
