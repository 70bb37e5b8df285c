import { describe, expect, it } from 'vitest';
import type { OrganizationRecord } from '../store/store.js';
import { scopeFor } from '../tokens/mint-tokens.js';
import { createAudienceNarrowing } from './audience-narrowing.js';
import { OAuthError } from './oauth-error.js';
import type { TargetParameters } from './token-request.js';

const org = { audience: ['identity', 'primary-issuance', 'secondary-trading'] } as OrganizationRecord;
const GRANTED = scopeFor(org);
const ask = (targets: Partial<TargetParameters>): TargetParameters => ({
  audience: [],
  resource: [],
  scope: undefined,
  ...targets,
});

const narrowing = createAudienceNarrowing({
  resourceAudiences: {
    'https://issuance.example.com': 'primary-issuance',
    'https://trading.example.com/api': 'secondary-trading',
    'https://billing.example.com/': 'billing',
  },
});

function refusal(
  targets: Partial<TargetParameters>,
  granted = GRANTED,
): { code: string; description: string } {
  try {
    narrowing.narrow(ask(targets), granted);
  } catch (error) {
    expect(error).toBeInstanceOf(OAuthError);
    return { code: (error as OAuthError).code, description: (error as OAuthError).description };
  }
  throw new Error('expected a refusal');
}

describe('createAudienceNarrowing', () => {
  it('grants everything when nothing is asked', () => {
    expect(GRANTED).toBe('openid email profile aud:identity aud:primary-issuance aud:secondary-trading');
    expect(narrowing.narrow(ask({}), GRANTED)).toEqual({
      audience: ['identity', 'primary-issuance', 'secondary-trading'],
      scope: GRANTED,
    });
  });

  it("narrows to the named audiences, keeping identity and the organization's order", () => {
    expect(narrowing.narrow(ask({ audience: ['secondary-trading'] }), GRANTED)).toEqual({
      audience: ['identity', 'secondary-trading'],
      scope: 'openid email profile aud:identity aud:secondary-trading',
    });
  });

  it('takes resource URIs as the audiences they map to, after URL normalization (RFC 8707)', () => {
    expect(
      narrowing.narrow(ask({ resource: ['HTTPS://ISSUANCE.EXAMPLE.COM:443/'] }), GRANTED).audience,
    ).toEqual(['identity', 'primary-issuance']);
  });

  it('targets the union of audience and resource', () => {
    const narrowed = narrowing.narrow(
      ask({ audience: ['primary-issuance'], resource: ['https://trading.example.com/api'] }),
      GRANTED,
    );
    expect(narrowed.audience).toEqual(['identity', 'primary-issuance', 'secondary-trading']);
  });

  it('keeps the aud: entries a scope lists, and accepts the other granted scopes in it', () => {
    expect(narrowing.narrow(ask({ scope: 'openid aud:primary-issuance' }), GRANTED)).toEqual({
      audience: ['identity', 'primary-issuance'],
      scope: 'openid email profile aud:identity aud:primary-issuance',
    });
    expect(narrowing.narrow(ask({ scope: 'openid' }), GRANTED).audience).toEqual(['identity']);
  });

  it('grants what both the targets and the scope allow when given both', () => {
    const narrowed = narrowing.narrow(
      ask({
        audience: ['primary-issuance', 'secondary-trading'],
        scope: 'aud:secondary-trading aud:identity',
      }),
      GRANTED,
    );
    expect(narrowed.audience).toEqual(['identity', 'secondary-trading']);
  });

  it("narrows a refresh within its own grant, never back to the organization's whole set", () => {
    const firstGrant = narrowing.narrow(ask({ audience: ['primary-issuance'] }), GRANTED);
    expect(narrowing.narrow(ask({}), firstGrant.scope)).toEqual(firstGrant);
    expect(refusal({ audience: ['secondary-trading'] }, firstGrant.scope)).toEqual({
      code: 'invalid_target',
      description:
        'The audience "secondary-trading" is not granted; this client may ask for identity, primary-issuance.',
    });
  });

  it('refuses an audience outside the grant with invalid_target', () => {
    expect(refusal({ audience: ['identity', 'billing'] })).toEqual({
      code: 'invalid_target',
      description:
        'The audience "billing" is not granted; this client may ask for identity, primary-issuance, secondary-trading.',
    });
    expect(refusal({ audience: ['<script>'] }).description).toBe(
      'The audience (not an audience name) is not granted; this client may ask for identity, primary-issuance, secondary-trading.',
    );
  });

  it.each([
    ['a URI no option maps', 'https://unknown.example.com/'],
    ['a mapped URI whose audience the org lacks', 'https://billing.example.com/'],
    ['a relative URI', '/api'],
    ['a URI with a fragment', 'https://issuance.example.com/#x'],
    ['an empty fragment', 'https://issuance.example.com/#'],
  ])('refuses a resource that is %s with invalid_target', (_, resource) => {
    expect(refusal({ resource: [resource] })).toEqual({
      code: 'invalid_target',
      description:
        'A resource is not an absolute URI this service maps to an audience granted to this client (RFC 8707 §2).',
    });
  });

  it('refuses a scope entry outside the grant with invalid_scope, listing what it may hold', () => {
    const description =
      'is not granted; the scope may list openid, email, profile, aud:identity, aud:primary-issuance, aud:secondary-trading.';
    expect(refusal({ scope: 'aud:identity aud:billing' })).toEqual({
      code: 'invalid_scope',
      description: `The scope "aud:billing" ${description}`,
    });
    expect(refusal({ scope: 'admin' })).toEqual({
      code: 'invalid_scope',
      description: `The scope "admin" ${description}`,
    });
  });

  it.each(['aud:identity  openid', ' aud:identity', 'aud:identity ', 'a"b', 'a\\b', 'é'])(
    'refuses a malformed scope %j with invalid_scope (RFC 6749 §3.3)',
    (scope) => {
      expect(refusal({ scope })).toEqual({
        code: 'invalid_scope',
        description: 'The scope must be scope tokens separated by single spaces (RFC 6749 §3.3).',
      });
    },
  );

  it('refuses at factory time a resource map that is not absolute URIs to audience names', () => {
    expect(() => createAudienceNarrowing({ resourceAudiences: { '/relative': 'identity' } })).toThrow(
      new TypeError(
        'createAudienceNarrowing: `resourceAudiences` key "/relative" must be an absolute URI without a fragment (RFC 8707 §2)',
      ),
    );
    expect(() =>
      createAudienceNarrowing({ resourceAudiences: { 'https://a.example/#x': 'identity' } }),
    ).toThrow(TypeError);
    expect(() =>
      createAudienceNarrowing({ resourceAudiences: { 'https://a.example/': 'two words' } }),
    ).toThrow(
      new TypeError(
        'createAudienceNarrowing: `resourceAudiences["https://a.example/"]` must be an audience name (1-64 letters, digits, ".", "_", ":" or "-")',
      ),
    );
    expect(() =>
      createAudienceNarrowing({
        resourceAudiences: { 'https://a.example': 'one', 'HTTPS://A.EXAMPLE/': 'two' },
      }),
    ).toThrow(
      new TypeError(
        'createAudienceNarrowing: `resourceAudiences` names "https://a.example/" twice, with different audiences',
      ),
    );
  });

  it('refuses every resource when no map is given', () => {
    expect(() =>
      createAudienceNarrowing().narrow(ask({ resource: ['https://issuance.example.com'] }), GRANTED),
    ).toThrow(OAuthError);
  });
});
