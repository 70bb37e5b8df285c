import { RialtoError } from '../../errors.js';
import { epochSeconds } from '../../internal/clock.js';
import type { Services } from '../../services.js';
import { webhookEvent } from '../../webhooks/event-catalogue.js';
import { webhookCreationSchema, webhookEventTypesSchema } from '../../webhooks/webhook-subscriptions.js';
import type { RequestLike } from '../http-types.js';
import { respond } from '../messages.js';
import { isUuid, parseBody, type Route } from '../route.js';
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
      doc: {
        path: '/notifications/webhooks',
        operationId: 'createWebhook',
        summary: 'Subscribe a URL to events of your organization; the signing secret is shown only here',
        tag: 'Webhooks',
        security: ['apiKey', 'accessToken'],
        requestBody: webhookCreationSchema,
        responses: { 201: webhookCreatedResponseSchema },
        errors: ['insufficient_role', 'temporarily_unavailable', 'invalid_request'],
      },
      async run(request) {
        const orgId = await orgOf(request);
        const { subscription, secret } = await webhookSubscriptions.create(
          orgId,
          parseBody(webhookCreationSchema, request),
        );
        return respond(201, webhookCreatedResponseSchema, {
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
      doc: {
        path: '/notifications/webhooks',
        operationId: 'listWebhooks',
        summary: "List your organization's webhook subscriptions",
        tag: 'Webhooks',
        security: ['apiKey', 'accessToken'],
        responses: { 200: webhookListResponseSchema },
        errors: ['insufficient_role', 'temporarily_unavailable'],
      },
      async run(request) {
        const subscriptions = await webhookSubscriptions.list(await orgOf(request));
        return respond(200, webhookListResponseSchema, {
          webhooks: subscriptions.map(webhookSubscriptionJson),
        });
      },
    },
    {
      method: 'GET',
      pattern: /^\/notifications\/webhooks\/([^/]+)$/,
      scheme: 'bearer',
      doc: {
        path: '/notifications/webhooks/{webhook_id}',
        operationId: 'getWebhook',
        summary: 'Read a webhook subscription',
        tag: 'Webhooks',
        security: ['apiKey', 'accessToken'],
        responses: { 200: webhookSubscriptionResponseSchema },
        errors: ['insufficient_role', 'not_found', 'temporarily_unavailable'],
      },
      async run(request, [id]) {
        const orgId = await orgOf(request);
        return respond(
          200,
          webhookSubscriptionResponseSchema,
          webhookSubscriptionJson(await webhookSubscriptions.get(orgId, subscriptionId(id))),
        );
      },
    },
    {
      method: 'DELETE',
      pattern: /^\/notifications\/webhooks\/([^/]+)$/,
      scheme: 'bearer',
      doc: {
        path: '/notifications/webhooks/{webhook_id}',
        operationId: 'deleteWebhook',
        summary: 'Delete a webhook subscription',
        tag: 'Webhooks',
        security: ['apiKey', 'accessToken'],
        responses: { 200: webhookDeletedResponseSchema },
        errors: ['insufficient_role', 'not_found', 'temporarily_unavailable'],
      },
      async run(request, [id]) {
        const orgId = await orgOf(request);
        const removedId = subscriptionId(id);
        await webhookSubscriptions.remove(orgId, removedId);
        return respond(200, webhookDeletedResponseSchema, { id: removedId, deleted: true });
      },
    },
    {
      method: 'PUT',
      pattern: /^\/notifications\/webhooks\/([^/]+)\/subscriptions$/,
      scheme: 'bearer',
      doc: {
        path: '/notifications/webhooks/{webhook_id}/subscriptions',
        operationId: 'setWebhookEventTypes',
        summary: 'Replace the event types a subscription receives',
        tag: 'Webhooks',
        security: ['apiKey', 'accessToken'],
        requestBody: webhookEventTypesSchema,
        responses: { 200: webhookSubscriptionResponseSchema },
        errors: ['insufficient_role', 'not_found', 'temporarily_unavailable', 'invalid_request'],
      },
      async run(request, [id]) {
        const orgId = await orgOf(request);
        const { eventTypes } = parseBody(webhookEventTypesSchema, request);
        const updated = await webhookSubscriptions.setEventTypes(orgId, subscriptionId(id), eventTypes);
        return respond(200, webhookSubscriptionResponseSchema, webhookSubscriptionJson(updated));
      },
    },
    {
      method: 'POST',
      pattern: /^\/notifications\/webhooks\/([^/]+)\/rotate-secret$/,
      scheme: 'bearer',
      doc: {
        path: '/notifications/webhooks/{webhook_id}/rotate-secret',
        operationId: 'rotateWebhookSecret',
        summary: "Replace a subscription's signing secret; the new one is shown only here",
        tag: 'Webhooks',
        security: ['apiKey', 'accessToken'],
        responses: { 200: webhookSecretResponseSchema },
        errors: ['insufficient_role', 'not_found', 'temporarily_unavailable'],
      },
      async run(request, [id]) {
        const orgId = await orgOf(request);
        const { subscription, secret } = await webhookSubscriptions.rotateSecret(orgId, subscriptionId(id));
        return respond(200, webhookSecretResponseSchema, {
          id: subscription.subscriptionId,
          signing_secret: secret,
        });
      },
    },
    {
      method: 'POST',
      pattern: /^\/notifications\/webhooks\/([^/]+)\/test$/,
      scheme: 'bearer',
      doc: {
        path: '/notifications/webhooks/{webhook_id}/test',
        operationId: 'testWebhook',
        summary: 'Deliver a test.ping event now and report the attempt',
        tag: 'Webhooks',
        security: ['apiKey', 'accessToken'],
        responses: { 200: webhookDeliveryResponseSchema },
        errors: ['insufficient_role', 'not_found', 'temporarily_unavailable'],
      },
      async run(request, [id]) {
        const orgId = await orgOf(request);
        const subscription = await webhookSubscriptions.get(orgId, subscriptionId(id));
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
    },
    {
      method: 'GET',
      pattern: /^\/notifications\/webhooks\/([^/]+)\/deliveries$/,
      scheme: 'bearer',
      doc: {
        path: '/notifications/webhooks/{webhook_id}/deliveries',
        operationId: 'listWebhookDeliveries',
        summary: "List a subscription's most recent deliveries (50 at most)",
        tag: 'Webhooks',
        security: ['apiKey', 'accessToken'],
        responses: { 200: webhookDeliveriesResponseSchema },
        errors: ['insufficient_role', 'not_found', 'temporarily_unavailable'],
      },
      async run(request, [id]) {
        const orgId = await orgOf(request);
        const subscription = await webhookSubscriptions.get(orgId, subscriptionId(id));
        const deliveries = await options.store.listWebhookDeliveries(
          orgId,
          subscription.subscriptionId,
          DELIVERIES_LISTED,
        );
        return respond(200, webhookDeliveriesResponseSchema, {
          deliveries: deliveries.map(webhookDeliveryJson),
        });
      },
    },
  ];
}
