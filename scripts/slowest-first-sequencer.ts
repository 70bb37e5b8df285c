import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Runs the longest test files first, so that the run does not end with one worker finishing a
 * long file while the others idle. Vitest orders files by the durations it cached on this
 * checkout's last run; a fresh clone (CI) has none, and vitest then puts small files last, which
 * are the store conformance files: thin wrappers of the longest suites. Here a file vitest has no
 * duration for takes the one recorded in `scripts/test-durations.json` (`pnpm test:durations`
 * rewrites it from a run's JSON report); a file missing from both runs after those with one.
 * The order changes only how long the run takes, never what it checks.
 */
export class SlowestFirstSequencer extends BaseSequencer {
  private readonly recorded: Record<string, number> = readRecordedDurations();

  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const seconds = new Map(files.map((file) => [file, this.secondsOf(file)]));
    return [...files].sort((a, b) => {
      // Vitest runs one project's files before the next project's; keep its project order.
      if (a.project.name !== b.project.name) return a.project.name < b.project.name ? -1 : 1;
      return (seconds.get(b) ?? 0) - (seconds.get(a) ?? 0);
    });
  }

  private secondsOf(file: TestSpecification): number {
    const path = relative(this.ctx.config.root, file.moduleId);
    const cached = this.ctx.cache.getFileTestResults(`${file.project.name}:${path}`);
    return cached === undefined ? (this.recorded[path] ?? 0) : cached.duration / 1000;
  }
}

function readRecordedDurations(): Record<string, number> {
  try {
    return JSON.parse(readFileSync(new URL('./test-durations.json', import.meta.url), 'utf8'));
  } catch {
    return {};
  }
}
