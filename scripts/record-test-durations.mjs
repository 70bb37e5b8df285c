// Writes scripts/test-durations.json, the order a fresh clone runs the test files in (slowest
// first, see scripts/slowest-first-sequencer.ts), from a vitest JSON report:
//   node scripts/record-test-durations.mjs report.json
import { readFileSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';

const [reportPath] = process.argv.slice(2);
if (reportPath === undefined) {
  console.error('usage: node scripts/record-test-durations.mjs <vitest JSON report>');
  process.exit(2);
}
const root = new URL('..', import.meta.url).pathname;
const report = JSON.parse(readFileSync(reportPath, 'utf8'));
const entries = report.testResults
  .map((file) => [relative(root, file.name), Math.round((file.endTime - file.startTime) / 100) / 10])
  .sort(([, a], [, b]) => b - a);
writeFileSync(
  new URL('./test-durations.json', import.meta.url),
  `${JSON.stringify(Object.fromEntries(entries), null, 2)}\n`,
);
console.log(`recorded ${entries.length} files`);
