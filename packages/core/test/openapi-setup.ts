import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, expect, inject } from 'vitest';
import { exercisedResponses, takeConformanceProblems } from './openapi-conformance.js';

/**
 * Vitest setup of every test file: a test whose real answers disagree with the OpenAPI document
 * fails, and the answers each file saw are left for the suite-wide coverage check
 * (`openapi-coverage.ts`).
 */
afterEach(() => {
  expect(takeConformanceProblems(), 'answers that disagree with the OpenAPI document').toEqual([]);
});

afterAll(() => {
  const directory = inject('openApiCoverageDirectory');
  if (exercisedResponses.size === 0) return;
  mkdirSync(directory, { recursive: true });
  const file = join(directory, `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify([...exercisedResponses]));
  // Files that share a worker's modules (vitest.config.ts) share this set too: each writes its own.
  exercisedResponses.clear();
});

declare module 'vitest' {
  export interface ProvidedContext {
    openApiCoverageDirectory: string;
  }
}
