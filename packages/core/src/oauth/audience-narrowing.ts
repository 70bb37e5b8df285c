import { AUDIENCE_PATTERN, REQUIRED_AUDIENCE } from '../organizations/organizations.js';
import { OAuthError } from './oauth-error.js';
import type { TargetParameters } from './token-request.js';

const AUDIENCE_SCOPE_PREFIX = 'aud:';
// RFC 6749 §3.3: scope-token = 1*NQCHAR, tokens separated by single spaces.
const SCOPE_SYNTAX = /^[\x21\x23-\x5B\x5D-\x7E]+(?: [\x21\x23-\x5B\x5D-\x7E]+)*$/;

export interface AudienceNarrowingOptions {
  /**
   * The absolute URIs a `resource` parameter (RFC 8707) may name, each mapped to the audience it
   * stands for, e.g. `{ 'https://issuance.example.com/': 'primary-issuance' }`. URIs are compared
   * after URL normalization (case of scheme and host, default port, an empty path as `/`).
   * @default {} (every `resource` is `invalid_target`)
   */
  resourceAudiences?: Readonly<Record<string, string>>;
}

/** What a token is issued for once narrowed: its `aud` and its `scope`. */
export interface NarrowedGrant {
  audience: string[];
  scope: string;
}

export interface AudienceNarrowing {
  /**
   * Narrows a grant to what the request asks for. `audience` and `resource` name targets (their
   * union); `scope` keeps the `aud:<name>` entries it lists; given both, the token gets what both
   * allow. `identity` always stays, and the other scopes (`openid email profile`) are always granted.
   * Nothing asked, nothing narrowed.
   * @param grantedScope the most the client may get: `scopeFor(org)` for a new grant, the grant's
   * own scope on refresh (so a refresh can narrow further, never widen)
   * @throws OAuthError `invalid_target` for an `audience` or `resource` outside the grant,
   * `invalid_scope` for a `scope` entry outside it or a malformed `scope`
   */
  narrow(targets: TargetParameters, grantedScope: string): NarrowedGrant;
}

/**
 * @throws TypeError when `resourceAudiences` has a key that is not an absolute URI without a
 * fragment, a value that is not an audience name, or two keys for one URI with different audiences
 * @example
 * const narrowing = createAudienceNarrowing({ resourceAudiences: { 'https://issuance.example.com/': 'primary-issuance' } });
 * narrowing.narrow({ audience: [], resource: [], scope: 'aud:identity' }, scopeFor(org));
 * // { audience: ['identity'], scope: 'openid email profile aud:identity' }
 */
export function createAudienceNarrowing(options: AudienceNarrowingOptions = {}): AudienceNarrowing {
  const resourceAudiences = resolveResourceAudiences(options.resourceAudiences ?? {});

  // A granted scope is an organization's audience set: few distinct strings, read on every request.
  const parsedScopes = new Map<string, ParsedScope>();
  const parse = (grantedScope: string): ParsedScope => {
    let parsed = parsedScopes.get(grantedScope);
    if (parsed === undefined) {
      if (parsedScopes.size >= MAX_PARSED_SCOPES) parsedScopes.clear();
      parsed = parseScope(grantedScope);
      parsedScopes.set(grantedScope, parsed);
    }
    return parsed;
  };

  return {
    narrow(targets, grantedScope) {
      const { granted, otherScopes, whole } = parse(grantedScope);
      const asksNothing =
        targets.audience.length === 0 && targets.resource.length === 0 && targets.scope === undefined;
      if (asksNothing) return { audience: [...granted], scope: whole };
      // Built only for a refusal: most requests ask for nothing, or for what they may get.
      const describeGranted = () => `this client may ask for ${granted.join(', ')}`;

      let selected: Set<string> | undefined;
      if (targets.audience.length > 0 || targets.resource.length > 0) {
        selected = new Set();
        for (const audience of targets.audience) {
          if (!granted.includes(audience)) {
            throw new OAuthError(
              'invalid_target',
              `The audience ${quoted(audience)} is not granted; ${describeGranted()}.`,
            );
          }
          selected.add(audience);
        }
        for (const resource of targets.resource) {
          const audience = resourceAudiences.get(normalizedUri(resource) ?? '');
          if (audience === undefined || !granted.includes(audience)) {
            throw new OAuthError(
              'invalid_target',
              'A resource is not an absolute URI this service maps to an audience granted to this client (RFC 8707 §2).',
            );
          }
          selected.add(audience);
        }
      }
      if (targets.scope !== undefined) {
        if (!SCOPE_SYNTAX.test(targets.scope)) {
          throw new OAuthError(
            'invalid_scope',
            'The scope must be scope tokens separated by single spaces (RFC 6749 §3.3).',
          );
        }
        const inScope = new Set<string>();
        for (const scope of targets.scope.split(' ')) {
          if (isAudienceScope(scope) && granted.includes(audienceOf(scope))) inScope.add(audienceOf(scope));
          else if (!otherScopes.includes(scope)) {
            throw new OAuthError(
              'invalid_scope',
              `The scope ${quoted(scope)} is not granted; the scope may list ${[...otherScopes, ...granted.map((audience) => `${AUDIENCE_SCOPE_PREFIX}${audience}`)].join(', ')}.`,
            );
          }
        }
        selected =
          selected === undefined ? inScope : new Set([...selected].filter((name) => inScope.has(name)));
      }

      const audience = granted.filter(
        (name) => selected === undefined || selected.has(name) || name === REQUIRED_AUDIENCE,
      );
      return { audience, scope: scopeOf(otherScopes, audience) };
    },
  };
}

const MAX_PARSED_SCOPES = 1_000;

interface ParsedScope {
  /** The audiences the scope's `aud:` entries grant. */
  granted: readonly string[];
  /** Its other entries (`openid email profile`). */
  otherScopes: readonly string[];
  /** The scope a request that asks for nothing gets: every entry, normalized. */
  whole: string;
}

function parseScope(grantedScope: string): ParsedScope {
  const scopes = grantedScope.split(' ').filter((scope) => scope !== '');
  const granted = scopes.filter(isAudienceScope).map(audienceOf);
  const otherScopes = scopes.filter((scope) => !isAudienceScope(scope));
  return { granted, otherScopes, whole: scopeOf(otherScopes, granted) };
}

function scopeOf(otherScopes: readonly string[], audience: readonly string[]): string {
  return [...otherScopes, ...audience.map((name) => `${AUDIENCE_SCOPE_PREFIX}${name}`)].join(' ');
}

function resolveResourceAudiences(input: Readonly<Record<string, string>>): Map<string, string> {
  const resolved = new Map<string, string>();
  for (const [uri, audience] of Object.entries(input)) {
    const normalized = normalizedUri(uri);
    if (normalized === undefined) {
      throw new TypeError(
        `createAudienceNarrowing: \`resourceAudiences\` key ${JSON.stringify(uri)} must be an absolute URI without a fragment (RFC 8707 §2)`,
      );
    }
    if (typeof audience !== 'string' || !AUDIENCE_PATTERN.test(audience)) {
      throw new TypeError(
        `createAudienceNarrowing: \`resourceAudiences[${JSON.stringify(uri)}]\` must be an audience name (1-64 letters, digits, ".", "_", ":" or "-")`,
      );
    }
    const previous = resolved.get(normalized);
    if (previous !== undefined && previous !== audience) {
      throw new TypeError(
        `createAudienceNarrowing: \`resourceAudiences\` names ${JSON.stringify(normalized)} twice, with different audiences`,
      );
    }
    resolved.set(normalized, audience);
  }
  return resolved;
}

/** RFC 8707 §2: an absolute URI without a fragment, normalized; otherwise `undefined`. */
function normalizedUri(value: string): string | undefined {
  if (!URL.canParse(value)) return undefined;
  const url = new URL(value);
  if (url.hash !== '' || value.includes('#')) return undefined;
  return url.href;
}

function isAudienceScope(scope: string): boolean {
  return scope.startsWith(AUDIENCE_SCOPE_PREFIX);
}

function audienceOf(scope: string): string {
  return scope.slice(AUDIENCE_SCOPE_PREFIX.length);
}

// A description repeats a requested name only when it has an audience's shape: it is client input.
function quoted(name: string): string {
  return AUDIENCE_PATTERN.test(name) ? `"${name}"` : '(not an audience name)';
}
