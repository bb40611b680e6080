#!/usr/bin/env node
// Entry point of the `concord` CLI: runs the JavaScript compiled from src/ into dist/
// (scripts/build.mjs; npm ci, npm start and npm test build it). A launcher rather than
// pointing bin at dist/cli/main.js, so the bin exists before a build and says what is
// missing instead of failing with a module-not-found trace.
import { existsSync } from 'node:fs';
import { URL } from 'node:url';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('concord: dist/ is not built; run `npm run build` (needs the devDependencies)\n');
  process.exit(69); // EX_UNAVAILABLE: a file it needs does not exist
}
await import(main.href);
