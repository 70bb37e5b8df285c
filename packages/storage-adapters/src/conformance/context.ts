import type { Store } from '@rialto-exchange/core';
import { it, onTestFinished } from 'vitest';
import type { ConformanceGuarantee, MakeStore } from './types.js';

export interface SuiteContext {
  /** A fresh, empty store, disposed of when the current test finishes. */
  freshStore(): Promise<Store>;
  /** Declares a case that needs `guarantee`; it is skipped, with the reason, if the adapter opted out. */
  itGuarantees(guarantee: ConformanceGuarantee, name: string, test: () => Promise<void>): void;
}

export function createSuiteContext(
  makeStore: MakeStore,
  skip: Partial<Record<ConformanceGuarantee, string>>,
): SuiteContext {
  return {
    async freshStore() {
      const { store, cleanup } = await makeStore();
      if (cleanup) onTestFinished(async () => cleanup());
      return store;
    },
    itGuarantees(guarantee, name, test) {
      const reason = skip[guarantee];
      if (reason === undefined) it(name, test);
      else it.skip(`${name} [skipped, ${guarantee}: ${reason}]`, test);
    },
  };
}
