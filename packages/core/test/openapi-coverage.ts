import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

/**
 * Answers of docs/openapi.json that no end-to-end test produces, each with why. Everything else the
 * document names must be seen at least once by a full run (`OPENAPI_COVERAGE=check`, set by
 * scripts/test.sh when it runs the whole suite).
 */
export const UNEXERCISED: ReadonlyArray<{ status: number; method?: string; path?: string; reason: string }> =
  [
    {
      status: 500,
      reason:
        'server_error: every operation documents it; no real part of the suite can be made to fail that way',
    },
    {
      status: 409,
      method: 'PATCH',
      path: '/identity/organizations/{org_id}/issuers/{issuer_id}',
      reason:
        'conflict only after five lost races for one policy version in a row; the store conformance suite races replaceIssuerPolicy itself',
    },
  ];

/**
 * The run's one collection directory. Vitest calls a global setup once for the root config and once
 * per project (vitest.config.ts has two), all in its main process: every call shares the directory,
 * and only the last teardown checks, when every project's files have written their observations.
 */
const collection = globalThis as { rialtoOpenApiCoverage?: { directory: string; projects: number } };

/** Vitest global setup: a directory for the files' observations, and the check over all of them. */
export default function setup(project: TestProject): () => void {
  collection.rialtoOpenApiCoverage ??= {
    directory: mkdtempSync(join(tmpdir(), 'rialto-openapi-coverage-')),
    projects: 0,
  };
  const run = collection.rialtoOpenApiCoverage;
  run.projects += 1;
  const { directory } = run;
  project.provide('openApiCoverageDirectory', directory);
  return function checkCoverage() {
    run.projects -= 1;
    if (run.projects > 0) return;
    collection.rialtoOpenApiCoverage = undefined;
    const exercised = new Set<string>();
    for (const file of readdirSync(directory)) {
      for (const seen of JSON.parse(readFileSync(join(directory, file), 'utf8')) as string[])
        exercised.add(seen);
    }
    rmSync(directory, { recursive: true, force: true });
    if (process.env.OPENAPI_COVERAGE !== 'check') return;
    const document = JSON.parse(
      readFileSync(join(import.meta.dirname, '..', '..', '..', 'docs', 'openapi.json'), 'utf8'),
    ) as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
    const missing: string[] = [];
    let documented = 0;
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const [method, { responses }] of Object.entries(operations)) {
        for (const status of Object.keys(responses)) {
          documented += 1;
          const key = `${method.toUpperCase()} ${path} ${status}`;
          const isExcused = UNEXERCISED.some(
            (entry) =>
              entry.status === Number(status) &&
              (entry.method === undefined || entry.method === method.toUpperCase()) &&
              (entry.path === undefined || entry.path === path),
          );
          if (!exercised.has(key) && !isExcused) missing.push(key);
        }
      }
    }
    console.log(
      `openapi coverage: ${documented - missing.length} of ${documented} documented answers exercised or excused`,
    );
    if (missing.length > 0) {
      // Vitest reports a throwing teardown but still exits 0: the exit code is set here.
      console.error(
        `openapi coverage: documented answers no test produces (test them, or list them in UNEXERCISED with why):\n${missing.join('\n')}`,
      );
      process.exitCode = 1;
    }
  };
}
