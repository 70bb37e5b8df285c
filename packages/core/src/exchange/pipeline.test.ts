import { describe, expect, it } from 'vitest';
import type { ExchangeDependencies } from './exchange-context.js';
import { createExchangePipeline, EXCHANGE_STEPS, EXPLAIN_ERRORS } from './pipeline.js';

const names = (steps: readonly { name: string }[]) => steps.map((step) => step.name);

describe('the exchange pipeline', () => {
  it('runs the steps in the order of the error table, each in a span named after it', () => {
    expect(names(EXCHANGE_STEPS)).toEqual([
      'api_key',
      'org_standing',
      'org_rate_limit',
      'token_shape',
      'issuer',
      'discovery',
      'signature',
      'times',
      'token_type',
      'audience',
      'claims',
      'grant',
      'policy',
      'single_use',
      'linking',
      'minting',
    ]);
    for (const step of EXCHANGE_STEPS) expect(step.spanName).toBe(`rialto.exchange.${step.name}`);
  });

  it('puts the gates the debugger answers as the exchange does before every step it reports on', () => {
    const kinds = EXCHANGE_STEPS.map((step) => step.explain.kind);
    const lastGate = kinds.lastIndexOf('gate');
    expect(kinds.slice(0, lastGate + 1).every((kind) => kind === 'gate')).toBe(true);
    expect(EXPLAIN_ERRORS).toEqual([
      'missing_api_key',
      'invalid_api_key',
      'temporarily_unavailable',
      'organization_suspended',
      'rate_limited',
      'invalid_request',
    ]);
  });

  it('leaves single_use out unless singleUseIdTokens is on', () => {
    const deps = (singleUseIdTokens: boolean) => ({ singleUseIdTokens }) as ExchangeDependencies;
    expect(names(createExchangePipeline(deps(false)).steps)).not.toContain('single_use');
    expect(names(createExchangePipeline(deps(true)).steps)).toEqual(names(EXCHANGE_STEPS));
  });
});
