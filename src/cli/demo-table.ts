// The short table `concord demo` ends with, before its JSON line: what the federation
// achieved against pooling, what it cost, and who contributed what (with intervals where
// the valuation method gives them).

import type { DemoResult } from '../demo/demo.js';
import { formatSeconds } from './progress.js';

export function demoTable(s: DemoResult, totalSeconds: number): string {
  const metric = s.metric === 'rmse' ? 'RMSE' : 'accuracy';
  const rows: [string, string][] = [
    [`${metric}, federated`, `${s.score.toFixed(4)} (best round ${s.bestScore.toFixed(4)})`],
    [`${metric}, centralised`, s.centralizedScore === null ? 'not run (--no-baseline)' : `${s.centralizedScore.toFixed(4)} (${s.baselineEpochs} epochs on the pooled data)`],
    ['rounds', `${s.rounds} × ${s.members} members`],
    ['time', `${formatSeconds(totalSeconds)} in all, federation ${formatSeconds(s.seconds)}`],
    ['traffic', `${(s.bytesPerMemberPerRound / 1e6).toFixed(2)} MB per member per round`],
  ];
  if (s.privacy) {
    const p = s.privacy;
    const protections = [p.secureAggregation ? 'secure aggregation' : '', p.differentialPrivacy ? `DP-SGD, ε ${p.epsilon?.toFixed(2)} at δ ${p.delta}` : ''].filter(Boolean).join(', ');
    rows.push(['privacy', `${protections}; ${metric} without it ${p.scoreWithoutPrivacy.toFixed(4)} (cost ${p.cost.toFixed(4)})`]);
  }
  const total = s.footprint.total;
  rows.push(['CO2e', `${total.co2GramsLow.toFixed(2)}–${total.co2GramsHigh.toFixed(2)} g (central estimate ${total.co2Grams.toFixed(2)} g; pooling instead ${s.footprint.centralized.co2GramsLow.toFixed(2)}–${s.footprint.centralized.co2GramsHigh.toFixed(2)} g)`]);
  const v = s.valuation;
  if (v.available && v.values) {
    rows.push(['contributions', `${v.method}, accuracy points`]);
    for (const [name, phi] of Object.entries(v.values).sort(([a], [b]) => a.localeCompare(b))) {
      const u = v.uncertainty?.[name];
      const share = v.shares ? `, share ${(v.shares.fractions[name]! * 100).toFixed(1)} %` : '';
      rows.push([`  ${name}`, `${signed(phi * 100)}${u ? ` [${signed(u.low * 100)}, ${signed(u.high * 100)}]` : ''}${share}`]);
    }
    if (v.indistinguishable?.length) rows.push(['  not told apart', v.indistinguishable.map(([a, b]) => `${a} ~ ${b}`).join(', ')]);
  } else {
    rows.push(['contributions', `unavailable: ${v.reason}`]);
  }
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, value]) => `${k.padEnd(width)}  ${value}`).join('\n');
}

const signed = (x: number): string => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(2)}`;
