// The statistics registry: each query type is implemented by one module that says which
// types it handles; compileQuery asks it, never the type's name.

import type { DataSchema } from '../../data/schema/schema.js';
import type { QueryPlan, StatisticModule } from '../plan.js';
import type { Query } from '../query.js';
import { binStatistics } from './bins.js';
import { contingencyStatistics, matrixStatistics } from './matrix.js';
import { momentStatistics } from './moments.js';
import { summaryStatistics } from './summary.js';
import { survivalStatistics } from './survival.js';

const MODULES = [momentStatistics, binStatistics, matrixStatistics, contingencyStatistics, survivalStatistics, summaryStatistics] as unknown as StatisticModule[];

/** The query's cells and release against the schema; a query the schema cannot answer throws INVALID_ARGUMENT naming the field. */
export function compileQuery(query: Query, schema: DataSchema): QueryPlan {
  const module = MODULES.find((m) => m.types.includes(query.type));
  if (!module) throw new Error(`no statistic module implements ${query.type}`);
  return module.compile(query, schema);
}
