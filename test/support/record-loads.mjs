// Loaded with `node --import` into a process under test: writes every module the process
// loads to the file in $CONCORD_RECORD_LOADS, one URL or path a line, so that a test can
// check what a command loaded (never how long it took). ES modules are seen as they are
// resolved (record-loads-hooks.mjs); CommonJS ones, also those reached through
// createRequire, from require.cache when the process exits.
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';

const file = process.env.CONCORD_RECORD_LOADS;
if (!file) throw new Error('record-loads.mjs needs CONCORD_RECORD_LOADS, the file to write to');
register('./record-loads-hooks.mjs', import.meta.url, { data: { file } });
const cache = createRequire(import.meta.url).cache;
process.on('exit', () => appendFileSync(file, Object.keys(cache).map((path) => `${path}\n`).join('')));
