// The consortium data schema: its format (schema.ts), unit conversion (units.ts), validation
// of local files (validate.ts), the model's input layout (harmonise.ts) and the public
// descriptor (descriptor.ts).

export * from './schema.js';
export * from './validate.js';
export * from './harmonise.js';
export * from './descriptor.js';
export { converter } from './units.js';
