// Several sets of round extensions (a resource plan, privacy, governance) acting as one.
// Stages run in the order the sets are given: each `select` and `configure` sees what the
// one before produced, charges and metrics are merged, and at most one set may replace
// the train phase (secureTrain).

import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { Instruction } from '../strategies/strategy.js';
import type { MemberRoundMetrics, PrivacyCharge } from '../storage/storage.js';
import type { RoundExtensions } from './round-loop.js';

export function composeExtensions(...sets: (RoundExtensions | undefined)[]): RoundExtensions {
  const all = sets.filter((s): s is RoundExtensions => s !== undefined);
  if (all.length === 1) return all[0]!;
  const secure = all.filter((s) => s.secureTrain);
  if (secure.length > 1) throw new ConcordError(ErrorCode.INTERNAL, 'two extensions both replace the train phase (secureTrain)');
  const composed: RoundExtensions = {};
  const selects = all.filter((s) => s.select);
  if (selects.length > 0) {
    composed.select = async (round, plan, available) => {
      let current: Instruction[] = plan;
      for (const s of selects) current = await s.select!(round, current, available);
      return current;
    };
  }
  const admits = all.filter((s) => s.admit);
  if (admits.length > 0) {
    composed.admit = async (round, selected, available) => {
      for (const s of admits) await s.admit!(round, selected, available);
    };
  }
  const configures = all.filter((s) => s.configure);
  if (configures.length > 0) {
    composed.configure = (round, instruction, member) => {
      let config = instruction.config;
      for (const s of configures) config = s.configure!(round, { ...instruction, config }, member);
      return config;
    };
  }
  if (secure.length === 1) composed.secureTrain = secure[0]!.secureTrain!.bind(secure[0]);
  const charges = all.filter((s) => s.charges);
  if (charges.length > 0) {
    composed.charges = async (round, selected, available, participants) => {
      const out: PrivacyCharge[] = [];
      for (const s of charges) out.push(...(await s.charges!(round, selected, available, participants)));
      return out;
    };
  }
  const metrics = all.filter((s) => s.roundMetrics);
  if (metrics.length > 0) {
    composed.roundMetrics = (round, train) => {
      let members: MemberRoundMetrics[] = train;
      let trainMetrics: Record<string, number> = {};
      for (const s of metrics) {
        const out = s.roundMetrics!(round, members);
        members = out.members ?? members;
        trainMetrics = { ...trainMetrics, ...out.trainMetrics };
      }
      return { members, trainMetrics };
    };
  }
  // Stages this module does not know how to merge pass through when only one set has them.
  const known = new Set(['select', 'admit', 'configure', 'secureTrain', 'charges', 'roundMetrics']);
  for (const key of new Set(all.flatMap((s) => Object.keys(s)))) {
    if (known.has(key)) continue;
    const holders = all.filter((s) => (s as Record<string, unknown>)[key] !== undefined);
    if (holders.length > 1) throw new ConcordError(ErrorCode.INTERNAL, `two extensions both define "${key}", which cannot be combined`);
    const value = (holders[0] as Record<string, unknown>)[key];
    (composed as Record<string, unknown>)[key] = typeof value === 'function' ? value.bind(holders[0]) : value;
  }
  return composed;
}
