// The data-source registry: every source a data spec can name, by name. data/spec.ts asks
// it, never compares names itself.

import { arrowModule } from './arrow.js';
import { csvModule } from './csv.js';
import { mnistModule } from './mnist.js';
import { parquetModule } from './parquet.js';
import { ratingsModule } from './ratings.js';
import type { DataSourceModule } from './source.js';
import { spamModule } from './spam.js';
import type { TabularModule } from './tabular.js';

export type { DataSourceModule, KeyReader, LoadedData, SourceSpec } from './source.js';
export type { Cell, Table } from './table.js';

const MODULES: readonly DataSourceModule[] = [mnistModule, csvModule, spamModule, ratingsModule, parquetModule, arrowModule];
const TABULAR: readonly TabularModule[] = [csvModule, parquetModule, arrowModule];

export const SOURCE_NAMES: readonly string[] = MODULES.map((m) => m.name);

export function sourceModule(name: string): DataSourceModule | undefined {
  return MODULES.find((m) => m.name === name);
}

/** The file sources, which read tables (for schema validation of local files). */
export function tabularSource(name: string): TabularModule | undefined {
  return TABULAR.find((m) => m.name === name);
}

/** The tabular source a file's extension suggests: .parquet, .arrow/.feather/.ipc, else csv. */
export function tabularSourceForFile(path: string): TabularModule {
  if (/\.parquet$/i.test(path)) return parquetModule;
  if (/\.(arrow|feather|ipc)$/i.test(path)) return arrowModule;
  return csvModule;
}
