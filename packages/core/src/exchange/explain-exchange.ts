import { decodeProtectedHeader, errors as joseErrors } from 'jose';
import { errorBody, RialtoError, type RialtoErrorCode, toRialtoError } from '../errors.js';
import type { RequestLike } from '../http/http-types.js';
import { epochSeconds } from '../internal/clock.js';
import type { IssuerRegistrations } from '../issuers/issuer-registrations.js';
import type { ApiKeys } from '../organizations/api-keys.js';
import type { Organizations } from '../organizations/organizations.js';
import type { Store } from '../store/store.js';
import { previewProvisioning } from '../users/provision-user.js';
import { idTokenOfBody } from './exchange-token.js';
import { checkIdTokenAudience } from './id-token-audience.js';
import {
  checkTokenType,
  type IdTokenVerifier,
  readIdentity,
  type UnverifiedIdToken,
} from './verify-id-token.js';

/** The checks of an exchange, in the order the exchange runs them. */
export type ExplainStepName =
  | 'api_key'
  | 'token_shape'
  | 'issuer'
  | 'discovery'
  | 'signature'
  | 'times'
  | 'token_type'
  | 'audience'
  | 'claims'
  | 'single_use'
  | 'linking';

/** The error an exchange answers, with its status. */
export interface ExplainedError {
  error: RialtoErrorCode;
  error_description: string;
  status: number;
}

/** One check of an exchange, as `POST /identity/auth/exchange/explain` reports it. */
export interface ExplainStep {
  step: ExplainStepName;
  /** `skipped` once an earlier step failed, or when the check cannot run without writing. */
  result: 'pass' | 'fail' | 'skipped';
  /** What the check looked at: claims, header fields, settings and times; never the token, a key or a secret. */
  seen: Record<string, unknown>;
  /** On the failing step: the error the exchange answers for it. */
  error?: ExplainedError;
  /** On the failing step: what to change. */
  fix?: string;
  /** On a skipped step: why it did not run. */
  note?: string;
}

/** The body of `POST /identity/auth/exchange/explain`. */
export interface ExchangeExplanation {
  /** Whether the exchange would answer 200 with this token now. */
  would_succeed: boolean;
  /** What the exchange would answer instead: the first failing step's error, or `null`. */
  error: ExplainedError | null;
  steps: ExplainStep[];
}

export interface ExchangeExplainerDependencies {
  store: Store;
  apiKeys: ApiKeys;
  organizations: Organizations;
  issuers: IssuerRegistrations;
  idTokens: IdTokenVerifier;
  maxTokenBytes: number;
  singleUseIdTokens: boolean;
  clockToleranceSeconds: number;
  maxIdTokenLifetimeSeconds: number;
  /** The exchange's own per-organization limit, so explaining cannot be used to get around it. */
  admitOrganization(orgId: string): Promise<void>;
}

export interface ExchangeExplainer {
  /**
   * Runs the checks of `TokenExchange.exchange` on the same input, with the same functions and in
   * the same order, and reports each; the first failing step names the error the exchange would
   * answer. Nothing is written and nothing is minted: the single-use record of the token is not
   * checked (that would use it up) and the user is looked up, never linked or created.
   * @throws RialtoError as the exchange does for the API key (`missing_api_key`, `invalid_api_key`,
   *   `organization_suspended`) and the organization's rate limit: nothing is explained to a caller
   *   the exchange would not hear
   */
  explain(apiKeyHeader: string | undefined, body: RequestLike['body']): Promise<ExchangeExplanation>;
}

export function createExchangeExplainer(deps: ExchangeExplainerDependencies): ExchangeExplainer {
  const { store, apiKeys, organizations, issuers, idTokens, maxTokenBytes, admitOrganization } = deps;
  const { singleUseIdTokens, clockToleranceSeconds, maxIdTokenLifetimeSeconds } = deps;

  return {
    async explain(apiKeyHeader, body) {
      const orgId = await apiKeys.authenticate(apiKeyHeader);
      await admitOrganization(orgId);
      const report = createReport(singleUseIdTokens);
      report.pass('api_key', { org_id: orgId });

      const idToken = await report.run('token_shape', {}, (seen) => {
        const decoded = idTokenOfBody(body, maxTokenBytes);
        Object.assign(seen, headerSeen(decoded));
        return decoded;
      });
      if (!idToken) return report.finish();
      const { payload } = idToken;

      const registration = await report.run(
        'issuer',
        { iss: payload.iss, aud: payload.aud },
        async (seen) => {
          const found = await issuers.resolve(orgId, payload.iss, payload.aud);
          seen.registration_id = found.registrationId;
          seen.registered_issuer = found.issuer;
          return found;
        },
      );
      if (!registration) return report.finish();

      const metadata = await report.run(
        'discovery',
        { registered_issuer: registration.issuer },
        async (seen) => {
          const found = await idTokens.steps.discover(idToken, registration);
          seen.document_issuer = found.issuer;
          seen.jwks_uri = found.jwksUri.href;
          return found;
        },
      );
      if (!metadata) return report.finish();

      // One jose call checks the signature, then the times: a time failure means the signature held.
      let timeFailure: unknown;
      const signatureSeen = { ...headerSeen(idToken), allowed_algorithms: registration.allowedAlgorithms };
      const verified = await report.run('signature', signatureSeen, async () => {
        try {
          return await idTokens.steps.verifySignatureAndTimes(idToken, registration, metadata.jwksUri);
        } catch (error) {
          if (!isTimeFailure(error)) throw error;
          timeFailure = error;
          return undefined;
        }
      });
      if (report.failed) return report.finish();

      const now = epochSeconds();
      const timesSeen = {
        now,
        exp: payload.exp,
        iat: payload.iat,
        nbf: payload.nbf,
        seconds_until_exp: typeof payload.exp === 'number' ? payload.exp - now : undefined,
        clock_tolerance_seconds: clockToleranceSeconds,
        max_lifetime_seconds: maxIdTokenLifetimeSeconds,
      };
      await report.run('times', timesSeen, () => {
        if (timeFailure !== undefined) throw timeFailure;
        idTokens.steps.checkLifetime(payload, now);
      });
      if (report.failed || !verified) return report.finish();

      const { protectedHeader } = verified;
      const typeSeen = {
        typ: protectedHeader.typ,
        token_use: payload.token_use,
        is_logout_token: payload.events !== undefined,
      };
      await report.run('token_type', typeSeen, () => checkTokenType(protectedHeader.typ, verified.payload));
      if (report.failed) return report.finish();

      const audienceSeen = { aud: payload.aud, azp: payload.azp, client_ids: registration.clientIds };
      await report.run('audience', audienceSeen, () =>
        checkIdTokenAudience(verified.payload, registration.clientIds),
      );
      if (report.failed) return report.finish();

      const identity = await report.run('claims', { subject_claim: registration.subjectClaim }, (seen) => {
        const read = readIdentity(verified.payload, registration.subjectClaim);
        Object.assign(seen, {
          sub: read.sub,
          email: read.email,
          email_claim: read.emailClaim,
          email_verified: read.emailVerified,
        });
        return read;
      });
      if (!identity) return report.finish();

      if (singleUseIdTokens) report.skip('single_use', SINGLE_USE_NOT_CHECKED);

      const linkingSeen = {
        email_linking: registration.emailLinking,
        trust_username_claims: registration.trustUsernameClaims,
      };
      await report.run('linking', linkingSeen, async (seen) => {
        const org = await organizations.get(orgId);
        // The key authenticated, so the org existed a moment ago; gone now means it was just deleted.
        if (!org) throw new RialtoError('invalid_api_key');
        seen.provisioning = org.provisioning;
        const preview = await previewProvisioning(store, org, identity, registration);
        seen.outcome = preview.outcome;
        if (preview.outcome === 'existing') seen.user_id = preview.user.userId;
      });
      return report.finish();
    },
  };
}

const STEP_ORDER: readonly ExplainStepName[] = [
  'api_key',
  'token_shape',
  'issuer',
  'discovery',
  'signature',
  'times',
  'token_type',
  'audience',
  'claims',
  'single_use',
  'linking',
];

const SINGLE_USE_NOT_CHECKED =
  'not checked: checking would use the token up; the exchange refuses a token that was exchanged before';

interface Report {
  /** Whether a step has failed: every later step is skipped. */
  readonly failed: boolean;
  pass(step: ExplainStepName, seen: Record<string, unknown>): void;
  skip(step: ExplainStepName, note: string): void;
  /** Runs a check; its error becomes the step's failure and the result `undefined`. */
  run<T>(
    step: ExplainStepName,
    seen: Record<string, unknown>,
    check: (seen: Record<string, unknown>) => T | Promise<T>,
  ): Promise<T | undefined>;
  /** The explanation, with every step not reported yet marked skipped. */
  finish(): ExchangeExplanation;
}

function createReport(singleUseIdTokens: boolean): Report {
  const steps: ExplainStep[] = [];
  let failure: ExplainedError | null = null;

  return {
    get failed() {
      return failure !== null;
    },
    pass(step, seen) {
      steps.push({ step, result: 'pass', seen });
    },
    skip(step, note) {
      steps.push({ step, result: 'skipped', seen: {}, note });
    },
    async run(step, seen, check) {
      try {
        const value = await check(seen);
        steps.push({ step, result: 'pass', seen });
        return value;
      } catch (error) {
        const rialtoError = toRialtoError(error);
        // The store down or a bug says nothing about the token: answered (and logged) as the exchange would.
        if (rialtoError.status >= 500 && rialtoError.code !== 'discovery_failed') throw error;
        failure = { ...errorBody(rialtoError), status: rialtoError.status };
        steps.push({
          step,
          result: 'fail',
          seen,
          error: failure,
          fix: exchangeErrorFix(step, rialtoError.code),
        });
        return undefined;
      }
    },
    finish() {
      const reported = new Set(steps.map(({ step }) => step));
      for (const step of STEP_ORDER) {
        // Without singleUseIdTokens the exchange has no such step.
        if (reported.has(step) || (step === 'single_use' && !singleUseIdTokens)) continue;
        steps.push({ step, result: 'skipped', seen: {}, note: 'not run: an earlier step failed' });
      }
      return { would_succeed: failure === null, error: failure, steps };
    },
  };
}

function isTimeFailure(error: unknown): boolean {
  return (
    error instanceof RialtoError &&
    (error.code === 'token_expired' || error.cause instanceof joseErrors.JWTClaimValidationFailed)
  );
}

function headerSeen(idToken: UnverifiedIdToken): Record<string, unknown> {
  const { alg, kid, typ } = decodeProtectedHeader(idToken.token);
  return { alg, kid, typ };
}

const JWKS_UNREACHABLE =
  "Make the issuer's /.well-known/openid-configuration and the jwks_uri it names reachable from this service over the network, answering JSON within the fetch timeout; check the issuer URL, DNS and firewalls.";

/** What to change, for each failure each step can meet, written for the partner's developer. */
const FIXES: Partial<Record<ExplainStepName, Partial<Record<RialtoErrorCode, string>>>> = {
  api_key: {
    missing_api_key: "Send your organization's API key in the X-API-Key header.",
    invalid_api_key:
      'Check the key value: copy it whole, with no surrounding whitespace or quotes. It may have been revoked; ask the service operator for a new key if it is lost.',
    organization_suspended: 'Your organization is suspended; ask the service operator to resume it.',
    rate_limited:
      'Too many requests from this address or organization: wait the seconds in Retry-After before trying again.',
  },
  token_shape: {
    invalid_token:
      'Send the ID token itself as the "token" string of a JSON body: three base64url parts joined by dots, without a "Bearer " prefix, quotes or whitespace, and not an opaque access token.',
  },
  issuer: {
    invalid_issuer: 'The token has no iss claim; send the ID token your identity provider issued.',
    issuer_not_registered:
      "The token's issuer (iss) is not registered for your organization: ask the service operator to register it, with your client id; it must match the registered URL exactly, apart from one trailing slash.",
    org_mismatch:
      "This issuer and client are registered to another organization: use that organization's API key, or have this client id registered for yours.",
  },
  discovery: {
    discovery_failed: JWKS_UNREACHABLE,
    invalid_issuer:
      "The identity provider's discovery document names another issuer than the token's iss: register and use exactly the issuer the provider publishes (tenant path and trailing slash included).",
  },
  signature: {
    invalid_signature:
      'Send the token exactly as the identity provider issued it, unmodified and freshly obtained. Its kid must be in the JWKS the provider publishes (keys may have rotated) and its alg must be one the issuer registration allows.',
    discovery_failed: JWKS_UNREACHABLE,
    invalid_token:
      'The token header asks for JWS features this service refuses (crit, embedded keys, unencoded payload): send an ordinary signed ID token.',
  },
  times: {
    token_expired:
      "The token has expired (compare exp with now and the clock tolerance): get a fresh ID token from the identity provider just before exchanging it, and check that this host's clock is right.",
    invalid_token:
      "exp and iat are required; iat and nbf must not lie in the future beyond the clock tolerance; exp must fall within the longest lifetime an ID token may have. Check the provider's token lifetime settings and that both clocks are synchronized (NTP).",
  },
  token_type: {
    invalid_token:
      'This is not an ID token (an access token, a logout token or another JWT type): send the ID token; with Cognito, the one whose token_use is "id".',
  },
  audience: {
    invalid_audience:
      'The aud claim must name only client ids registered for your organization, and with several audiences azp must name one of them: request the token for your registered client, or have its client id registered.',
  },
  claims: {
    invalid_token:
      'The token must carry the user id in the subject claim and an email in email, preferred_username or upn: use the ID token rather than an access token, request the email scope, and make the provider include sub and email.',
  },
  linking: {
    account_conflict:
      "A user with this email already exists and this issuer's linking policy refuses to attach a new identity to it: have the provider send email with email_verified true, ask the operator to change the issuer's email_linking, or remove the older user.",
    user_not_provisioned:
      'Your organization only signs in users created beforehand: create the user with this email first (admin API or CLI).',
    invalid_api_key: 'Your organization was deleted while the token was checked; ask the service operator.',
  },
};

/**
 * What to change when an exchange fails at `step` with `code`, in plain words; used by the token
 * debugger and by the CLI for the API-key errors the debugger itself answers with.
 */
export function exchangeErrorFix(step: ExplainStepName, code: RialtoErrorCode): string {
  return (
    FIXES[step]?.[code] ??
    'An unexpected error occurred; the service log has its cause. Retry, and report it if it persists.'
  );
}
