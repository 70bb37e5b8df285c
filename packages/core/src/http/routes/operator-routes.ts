import { RialtoError } from '../../errors.js';
import type { FacadeGroups } from '../../facade/index.js';
import { pageRequestSchema } from '../../listing/paging.js';
import { respond } from '../messages.js';
import {
  apiKeyListResponseSchema,
  apiKeySummaryJson,
  organizationOverviewJson,
  organizationOverviewResponseSchema,
  organizationPageResponseSchema,
  organizationSummaryJson,
  signingKeyListResponseSchema,
  signingKeyRotatedResponseSchema,
  signingKeyRotationRequestSchema,
  signingKeyStatusJson,
  userPageResponseSchema,
} from '../operator-wire-format.js';
import { declareRoute, type Route } from '../route.js';
import {
  isoTime,
  userJson,
  webhookDeliveriesResponseSchema,
  webhookDeliveryJson,
  webhookDeliveryResponseSchema,
  webhookListResponseSchema,
  webhookSubscriptionJson,
} from '../wire-format.js';

/**
 * What an operator looks up and the console shows, with the admin token: organizations and their
 * users page by page with search, an organization's overview, API keys and webhooks with their
 * deliveries (and redelivering one), the signing keys and their rotation. Each over the facade
 * function host code and the CLI call.
 */
export function operatorRoutes({ organizations, apiKeys, users, webhooks, keys }: FacadeGroups): Route[] {
  return [
    declareRoute({
      route: 'GET /identity/organizations',
      credentials: ['adminToken'],
      query: pageRequestSchema,
      operationId: 'listOrganizations',
      summary: 'List organizations, newest first, a page at a time',
      description:
        '`query` keeps the organization whose id it is and those whose name contains it (ASCII letters in any case). Pass `next_cursor` as `cursor` for the next page; `limit` is 1 to 200 (50 by default).',
      tag: 'Organizations',
      responses: { 200: organizationPageResponseSchema },
      errors: ['temporarily_unavailable', 'invalid_request'],
      async run(_request, _params, _caller, _body, request) {
        const page = await organizations.list(request);
        return respond(200, organizationPageResponseSchema, {
          organizations: page.items.map(organizationSummaryJson),
          next_cursor: page.nextCursor,
        });
      },
    }),
    declareRoute({
      route: 'GET /identity/organizations/{org_id}',
      credentials: ['adminToken'],
      operationId: 'getOrganization',
      summary: 'Read an organization with its active API keys (ids and dates) and issuers',
      tag: 'Organizations',
      responses: { 200: organizationOverviewResponseSchema },
      errors: ['not_found', 'temporarily_unavailable'],
      async run(_request, { org_id }) {
        return respond(
          200,
          organizationOverviewResponseSchema,
          organizationOverviewJson(await organizations.overview(org_id)),
        );
      },
    }),
    declareRoute({
      route: 'GET /identity/organizations/{org_id}/api-keys',
      credentials: ['adminToken'],
      operationId: 'listApiKeys',
      summary: "List the organization's active API keys, oldest first (ids and dates, never a key)",
      tag: 'Organizations',
      responses: { 200: apiKeyListResponseSchema },
      errors: ['not_found', 'temporarily_unavailable'],
      async run(_request, { org_id }) {
        const active = await apiKeys.list(org_id);
        return respond(200, apiKeyListResponseSchema, { org_id, api_keys: active.map(apiKeySummaryJson) });
      },
    }),
    declareRoute({
      route: 'GET /identity/organizations/{org_id}/users',
      credentials: ['adminToken'],
      query: pageRequestSchema,
      operationId: 'listOrganizationUsers',
      summary: "List the organization's users, newest first, a page at a time",
      description:
        '`query` keeps the user whose id it is and those whose email starts with it. Pass `next_cursor` as `cursor` for the next page; `limit` is 1 to 200 (50 by default).',
      tag: 'Users',
      responses: { 200: userPageResponseSchema },
      errors: ['not_found', 'temporarily_unavailable', 'invalid_request'],
      async run(_request, { org_id }, _caller, _body, request) {
        const page = await users.list(org_id, request);
        return respond(200, userPageResponseSchema, {
          users: page.items.map(userJson),
          next_cursor: page.nextCursor,
        });
      },
    }),
    declareRoute({
      route: 'GET /identity/organizations/{org_id}/webhooks',
      credentials: ['adminToken'],
      operationId: 'listOrganizationWebhooks',
      summary: "List the organization's webhook subscriptions (never their secrets)",
      tag: 'Webhooks',
      responses: { 200: webhookListResponseSchema },
      errors: ['not_found', 'temporarily_unavailable'],
      async run(_request, { org_id }) {
        const subscriptions = await webhooks.listSubscriptions(org_id);
        return respond(200, webhookListResponseSchema, {
          webhooks: subscriptions.map(webhookSubscriptionJson),
        });
      },
    }),
    declareRoute({
      route: 'GET /identity/organizations/{org_id}/webhooks/{webhook_id}/deliveries',
      credentials: ['adminToken'],
      operationId: 'listOrganizationWebhookDeliveries',
      summary: "List a subscription's most recent deliveries (50 at most)",
      tag: 'Webhooks',
      responses: { 200: webhookDeliveriesResponseSchema },
      errors: ['not_found', 'temporarily_unavailable'],
      async run(_request, { org_id, webhook_id }) {
        const deliveries = await webhooks.listDeliveries(org_id, webhook_id);
        return respond(200, webhookDeliveriesResponseSchema, {
          deliveries: deliveries.map(webhookDeliveryJson),
        });
      },
    }),
    declareRoute({
      route: 'POST /identity/organizations/{org_id}/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver',
      credentials: ['adminToken'],
      operationId: 'redeliverOrganizationWebhookDelivery',
      summary: 'Deliver a delivery again: due now, attempts kept (unless an attempt is under way)',
      tag: 'Webhooks',
      responses: { 200: webhookDeliveryResponseSchema },
      errors: ['not_found', 'temporarily_unavailable'],
      async run(_request, { org_id, webhook_id, delivery_id }) {
        const delivery = await webhooks.redeliver(org_id, webhook_id, delivery_id);
        return respond(200, webhookDeliveryResponseSchema, webhookDeliveryJson(delivery));
      },
    }),
    declareRoute({
      route: 'GET /identity/keys',
      credentials: ['adminToken'],
      operationId: 'listSigningKeys',
      summary: 'List the signing keys: next, active, retired and expired, with their dates',
      description:
        'Access-token keys, then refresh-token secrets, each newest first. Never any private material.',
      tag: 'Keys',
      responses: { 200: signingKeyListResponseSchema },
      errors: ['temporarily_unavailable'],
      async run() {
        return respond(200, signingKeyListResponseSchema, {
          keys: (await keys.list()).map(signingKeyStatusJson),
        });
      },
    }),
    declareRoute({
      route: 'POST /identity/keys/rotate',
      credentials: ['adminToken'],
      body: signingKeyRotationRequestSchema,
      operationId: 'rotateSigningKey',
      summary: 'Add a new signing key: published now, signing after the pre-publication delay',
      tag: 'Keys',
      responses: { 200: signingKeyRotatedResponseSchema },
      errors: ['temporarily_unavailable', 'invalid_request', 'conflict'],
      async run(_request, _params, _caller, { use }) {
        try {
          const rotated = await keys.rotate(use);
          return respond(200, signingKeyRotatedResponseSchema, {
            use: rotated.use,
            kid: rotated.kid,
            activates_at: isoTime(rotated.activatesAt),
          });
        } catch (error) {
          // keys.rotate refuses host-supplied keys as a host bug; over HTTP it is the caller's conflict.
          if (error instanceof TypeError) throw new RialtoError('conflict', error.message);
          throw error;
        }
      },
    }),
  ];
}
