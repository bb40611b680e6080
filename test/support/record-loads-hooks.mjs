// The loader hook of record-loads.mjs: appends each resolved module URL to the record file.
// Written synchronously before the module loads, so nothing is lost when the process exits.
import { appendFileSync } from 'node:fs';

let file = '';

export function initialize(data) {
  file = data.file;
}

export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  appendFileSync(file, `${resolved.url}\n`);
  return resolved;
}
