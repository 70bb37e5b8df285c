import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * Pins what each published entry point exports, values and types alike, so that a new export is a
 * deliberate change made here too, never a side effect of an `export` added for a test or a sibling
 * package. What belongs: what hosts use (README, docs/, examples/), what adapter authors use (the
 * Store contract, StoreUnavailableError, the option-schema helpers, the conformance suite), and every
 * type a kept export's signature names, so readers of the API reference can name it too.
 */

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

interface Surface {
  /** What `import()` of the entry point gives at run time. */
  values: string[];
  /** Names only TypeScript sees (interfaces and type aliases). */
  types: string[];
}

const EXPECTED: Record<string, { source: string; load: () => Promise<object>; surface: Surface }> = {
  '@rialto-exchange/core': {
    source: 'packages/core/src/index.ts',
    load: () => import('@rialto-exchange/core'),
    surface: {
      values: [
        'RialtoError',
        'StoreUnavailableError',
        'WebhookVerificationError',
        'createFetchHandler',
        'createRialtoExchange',
        'exchangeErrorFix',
        'storeKit',
        'verificationFlags',
        'verifyWebhook',
      ],
      types: [
        'AccessTokenAlgorithm',
        'AccreditationStatus',
        'ApiKeyRecord',
        'ApiKeySummary',
        'ClaimWebhookDeliveriesInput',
        'CompleteWebhookAttemptInput',
        'ConsoleSessionRecord',
        'ConsoleSessionStore',
        'CreateUserInput',
        'DeleteUserInput',
        'DeliveryRunSummary',
        'DiscoveryCheck',
        'EmailLinkingPolicy',
        'EndedRegistration',
        'ErrorBody',
        'ExchangeExplanation',
        'ExchangePolicyHook',
        'ExchangePolicyHookInput',
        'ExchangePolicyHookResult',
        'ExplainStep',
        'ExplainStepName',
        'ExplainedError',
        'FetchHandler',
        'FetchHandlerOptions',
        'FetchRequestContext',
        'FindOrCreateUserInput',
        'FindOrCreateUserResult',
        'GeneratedApiKey',
        'HealthOptions',
        'HealthSummary',
        'HostKeys',
        'IssuerPolicyDiff',
        'IssuerPolicyPatch',
        'IssuerPolicyRecord',
        'IssuerRegistrationConflict',
        'IssuerRegistrationInput',
        'IssuerRegistrationRecord',
        'JsonValue',
        'KycStatus',
        'LinkScope',
        'ListOrganizationsInput',
        'ListRefreshFamiliesInput',
        'ListUsersInput',
        'ListingPosition',
        'Logger',
        'MetricsOptions',
        'OpenApiDocument',
        'OpenApiOptions',
        'OrganizationOverview',
        'OrganizationPatch',
        'OrganizationRecord',
        'OrganizationRegistration',
        'OrganizationStore',
        'Page',
        'PageRequest',
        'PolicyChangedBy',
        'PrometheusRegistry',
        'ProtectedRequest',
        'ProvisioningMode',
        'RateLimitHit',
        'RateLimitHitResult',
        'RateLimitStore',
        'RedeliverWebhookDeliveryInput',
        'RefreshFamilySummary',
        'RefreshTokenLivenessQuery',
        'RefreshTokenRecord',
        'RegisteredOrganization',
        'RequestLike',
        'ResolvedRialtoExchangeOptions',
        'ResponseLike',
        'RialtoAccessTokenClaims',
        'RialtoApiKeys',
        'RialtoConsoleSessions',
        'RialtoErrorCode',
        'RialtoErrorOptions',
        'RialtoEventMap',
        'RialtoEventType',
        'RialtoExchange',
        'RialtoExchangeOptions',
        'RialtoHealth',
        'RialtoIssuers',
        'RialtoKeys',
        'RialtoMetrics',
        'RialtoOperators',
        'RialtoOrganizations',
        'RialtoUsers',
        'RialtoWebhooks',
        'RotateRefreshTokenInput',
        'RotateRefreshTokenResult',
        'RotatedKey',
        'SetUserRoleInput',
        'SigningKeyRecord',
        'SigningKeyStatus',
        'SigningKeyStore',
        'SigningKeyUse',
        'StartedConsoleSession',
        'Store',
        'StoreProbeResult',
        'TokenResponse',
        'TokenStore',
        'UpdateUserVerificationInput',
        'UpdateUserVerificationResult',
        'UserCreation',
        'UserIdentityRecord',
        'UserLifecycle',
        'UserRecord',
        'UserRole',
        'UserRoles',
        'UserStore',
        'UserVerification',
        'UserVerificationPatch',
        'VerificationFlags',
        'VerifyAccessTokenOptions',
        'VerifyWebhookOptions',
        'WebhookAttemptRecord',
        'WebhookDeliveryRecord',
        'WebhookDeliveryStatus',
        'WebhookEventRecord',
        'WebhookHeaders',
        'WebhookOptions',
        'WebhookStore',
        'WebhookSubscriptionPatch',
        'WebhookSubscriptionRecord',
        'WebhookSubscriptionSummary',
      ],
    },
  },
  '@rialto-exchange/core/option-schema': {
    source: 'packages/core/src/options/option-schema.ts',
    load: () => import('@rialto-exchange/core/option-schema'),
    surface: {
      values: ['implementation', 'parseOptions', 'positiveNumber', 'requiredBecause', 'strictOptions'],
      types: [],
    },
  },
  '@rialto-exchange/express': {
    source: 'packages/express/src/index.ts',
    load: () => import('@rialto-exchange/express'),
    surface: {
      values: [
        'RialtoError',
        'WebhookVerificationError',
        'requireRialtoToken',
        'rialtoAuthorizationServerMetadataHandler',
        'rialtoExchange',
        'rialtoMetricsHandler',
        'verifyWebhook',
      ],
      types: [
        'HealthOptions',
        'MetricsOptions',
        'PrometheusRegistry',
        'RequireRialtoTokenOptions',
        'RialtoAccessTokenClaims',
        'RialtoAuth',
        'RialtoErrorCode',
        'RialtoExchangeExpressOptions',
        'RialtoExchangeRouter',
        'RialtoMetrics',
        'VerifyWebhookOptions',
        'WebhookHeaders',
      ],
    },
  },
  '@rialto-exchange/storage-adapters': {
    source: 'packages/storage-adapters/src/index.ts',
    load: () => import('@rialto-exchange/storage-adapters'),
    surface: {
      values: ['keyvStore', 'memoryStore', 'redisStore', 'sqlStore', 'storeFromUrl'],
      types: [
        'ClosableStore',
        'KeyvLike',
        'KeyvStoreOptions',
        'RedisClusterCommandClient',
        'RedisCommandClient',
        'RedisConnection',
        'RedisStore',
        'RedisStoreOptions',
        'SqlConnection',
        'SqlStore',
        'SqlStoreOptions',
        'SqlStoreSettings',
        'StoreFromUrlOptions',
      ],
    },
  },
  '@rialto-exchange/storage-adapters/conformance': {
    source: 'packages/storage-adapters/src/conformance/index.ts',
    load: () => import('@rialto-exchange/storage-adapters/conformance'),
    surface: {
      values: ['runStoreConformance'],
      types: ['ConformanceGuarantee', 'MakeStore', 'StoreConformanceOptions', 'StoreUnderTest'],
    },
  },
  // The command line is the product; `runCli` lets a host embed it, with the streams it is given.
  '@rialto-exchange/cli': {
    source: 'packages/cli/src/cli.ts',
    load: () => import('../packages/cli/src/cli.js'),
    surface: { values: ['runCli'], types: ['CliIo'] },
  },
  '@rialto-exchange/dev-idp': {
    source: 'internal/dev-idp/src/index.ts',
    load: () => import('@rialto-exchange/dev-idp'),
    surface: {
      values: ['startDevIdp'],
      types: ['DevIdp', 'DevIdpOptions', 'DevIdpRequestCounts', 'DevIdpUser'],
    },
  },
};

/** The export names TypeScript sees for each source entry point, split into values and types. */
function declaredSurfaces(sources: string[]): Map<string, Surface> {
  const program = ts.createProgram(
    sources.map((source) => join(root, source)),
    {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      customConditions: ['@rialto-exchange/source'],
    },
  );
  const checker = program.getTypeChecker();
  const surfaces = new Map<string, Surface>();
  for (const source of sources) {
    const file = program.getSourceFile(join(root, source));
    const module = file && checker.getSymbolAtLocation(file);
    if (!module) throw new Error(`TypeScript did not load ${source}`);
    const surface: Surface = { values: [], types: [] };
    for (const exported of checker.getExportsOfModule(module)) {
      const target = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      (target.flags & ts.SymbolFlags.Value ? surface.values : surface.types).push(exported.name);
    }
    surface.values.sort();
    surface.types.sort();
    surfaces.set(source, surface);
  }
  return surfaces;
}

describe('public surface', () => {
  const entries = Object.entries(EXPECTED);

  it.each(entries)('%s exports exactly the pinned values at run time', async (_name, entry) => {
    expect(Object.keys(await entry.load()).sort()).toEqual(entry.surface.values);
  });

  it('each entry point declares exactly the pinned values and types', { timeout: 60_000 }, () => {
    const declared = declaredSurfaces(entries.map(([, entry]) => entry.source));
    for (const [name, entry] of entries) {
      expect({ name, ...declared.get(entry.source) }).toEqual({ name, ...entry.surface });
    }
  });
});
