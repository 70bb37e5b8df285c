#!/usr/bin/env node
// Committed, not built: pnpm links a workspace package's bin at install time, before `pnpm build`
// has made dist/, and warns for every bin whose file is missing.
import { runFromCommandLine } from '../dist/cli.js';

await runFromCommandLine();
