// Differential privacy in real rounds over HTTP: the settings members receive, the budget
// the coordinator enforces before a round, the budget each member enforces on its own,
// and clipping plus noise in central DP-FedAvg.

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { epsilonOf, sampleLevelCharge } from '../src/privacy/dp/charges.js';
import { ledgerFileStore } from '../src/node/ledger-file.js';
import { withPrivacyBudget } from '../src/node/privacy-guard.js';
import type { TrainConfig } from '../src/protocol/messages.js';
import { OPERATOR, addMember, plus, startHarness, startRun, waitForRun, type Harness } from './support/harness.js';

let h: Harness | undefined;
let dir: string | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

const train = { epochs: 1, batchSize: 32, learningRate: 0.1 };
// 100 examples, batch 32: q = 0.32, 4 steps per round at z = 1.
const perRound = sampleLevelCharge(100, train, 1);
const after = (rounds: number): number => epsilonOf(Array.from({ length: rounds }, () => perRound), 1e-5);

describe('differential privacy in rounds', () => {
  it('sends DP-SGD settings to members, charges each round, and refuses the round that would exceed the budget', async () => {
    h = await startHarness();
    const seen: (TrainConfig['privacy'] | undefined)[] = [];
    for (const name of ['a', 'b']) addMember(h, name, 100, (g, task) => (seen.push(task.config.privacy), plus(1)(g)));
    // A budget between what two and three rounds spend: two rounds run, the third is refused.
    const budget = (after(2) + after(3)) / 2;
    const runId = await startRun(h, {
      rounds: 5,
      train,
      differentialPrivacy: { level: 'sample', noiseMultiplier: 1, clippingNorm: 1.5, budget: { epsilon: budget, delta: 1e-5 } },
    });
    assert.equal(await waitForRun(h, runId), 'failed');
    assert.deepEqual((await h.storage.listRounds(runId)).map((r) => r.round), [1, 2]);
    const run = await h.storage.getRun(runId);
    // Datasets are listed in member-id order, which is random: either may come first.
    assert.match(run!.error!, /privacy budget exhausted: (.*; )?dataset a\/synthetic: the next round would spend ε=\d+\.\d+ > budget/);
    assert.match(run!.error!, /dataset b\/synthetic/);
    const events = await h.storage.listEvents(runId);
    assert.ok(events.some((e) => e.kind === 'run-refused' && e.round === 3));
    assert.deepEqual(seen[0], { level: 'sample', mode: 'distributed', clippingNorm: 1.5, noiseMultiplier: 1, noiseStddev: 0, samplingRate: 1 });
    const charges = await h.storage.listPrivacyCharges('a/synthetic');
    assert.equal(charges.length, 2);
    assert.deepEqual({ ...charges[0], runId: undefined, memberId: undefined }, { ...perRound, datasetId: 'a/synthetic', round: 1, runId: undefined, memberId: undefined });

    const res = await fetch(`${h.url}/v1/privacy`, { headers: { authorization: `Bearer ${OPERATOR}` } });
    const { datasets } = (await res.json()) as { datasets: { datasetId: string; epsilon: number; budget: number }[] };
    const a = datasets.find((d) => d.datasetId === 'a/synthetic')!;
    assert.ok(Math.abs(a.epsilon - after(2)) < 1e-9);
    assert.equal(a.budget, budget);
  });

  it('calibration "budget": each member trains at the least noise that fits all rounds in its budget, and spends it', async () => {
    h = await startHarness();
    const seen = new Map<string, number[]>();
    for (const [name, n] of [['small', 100], ['large', 2000]] as const) {
      addMember(h, name, n, (g, task) => (seen.set(name, [...(seen.get(name) ?? []), task.config.privacy!.noiseMultiplier]), plus(1)(g)));
    }
    const rounds = 4;
    const runId = await startRun(h, {
      rounds,
      train,
      differentialPrivacy: { level: 'sample', calibration: 'budget', noiseMultiplier: 1, clippingNorm: 1, budget: { epsilon: 3, delta: 1e-5 } },
    });
    assert.equal(await waitForRun(h, runId), 'completed');
    const small = seen.get('small')!;
    const large = seen.get('large')!;
    // One z per member for the whole run; the smaller dataset (sampled more often) needs more noise.
    assert.equal(new Set(small).size, 1);
    assert.equal(new Set(large).size, 1);
    assert.ok(small[0]! > large[0]!, `z small ${small[0]} vs large ${large[0]}`);
    const spent = (name: string, n: number, z: number) => epsilonOf(Array.from({ length: rounds }, () => sampleLevelCharge(n, train, z)), 1e-5);
    // Each spends its budget (to the accountant's bisection tolerance) and never more.
    assert.ok(spent('small', 100, small[0]!) <= 3 && spent('small', 100, small[0]!) > 2.99, `small spends ${spent('small', 100, small[0]!)}`);
    // The large one could train at z ≈ 0.85 within its budget: the floor (noiseMultiplier 1) holds, and the ledger agrees.
    assert.equal(large[0], 1);
    const charges = await h.storage.listPrivacyCharges('large/synthetic');
    assert.ok(Math.abs(epsilonOf(charges, 1e-5) - spent('large', 2000, 1)) < 1e-9);
    assert.ok(epsilonOf(await h.storage.listPrivacyCharges('small/synthetic'), 1e-5) <= 3);
  });

  it('a member keeps its own ledger: it declines tasks beyond its budget, and tasks without DP', async () => {
    h = await startHarness();
    dir = await mkdtemp(join(tmpdir(), 'concord-ledger-'));
    const ledgerFile = join(dir, 'careful.privacy.json');
    addMember(h, 'open-1', 100, plus(1));
    addMember(h, 'open-2', 100, plus(1));
    // Its own budget fits one round; the coordinator's (generous) budget would allow five.
    const careful = addMember(h, 'careful', 100, plus(1), (handler) =>
      withPrivacyBudget(handler, { budget: { epsilon: (after(1) + after(2)) / 2, delta: 1e-5 }, datasetId: 'careful/synthetic', numExamples: 100, store: ledgerFileStore(ledgerFile) }),
    );
    const runId = await startRun(h, {
      rounds: 2,
      minAvailableMembers: 3,
      train,
      fractionEvaluate: 0,
      minEvaluateMembers: 0,
      differentialPrivacy: { level: 'sample', noiseMultiplier: 1, clippingNorm: 1, budget: { epsilon: 100, delta: 1e-5 } },
    });
    assert.equal(await waitForRun(h, runId), 'completed');
    const rounds = await h.storage.listRounds(runId);
    assert.equal(rounds[0]!.participants.length, 3);
    assert.equal(rounds[1]!.participants.length, 2);
    assert.match(rounds[1]!.failures[0]!.reason, /^declined by the member: privacy budget of careful\/synthetic: this task would spend ε=/);
    // The member learns its decline went through from the HTTP reply, which may come after the run ended.
    for (let waited = 0; careful.rejected.length === 0 && waited < 5000; waited += 10) await new Promise((r) => setTimeout(r, 10));
    assert.equal(careful.rejected[0]?.code, 'CONCORD_ERR_FORBIDDEN');
    const ledger = JSON.parse(await readFile(ledgerFile, 'utf8')) as { datasets: Record<string, { charges: number }> };
    assert.equal(ledger.datasets['careful/synthetic']!.charges, 1);
    // Only the round it trained in was charged on the coordinator too.
    assert.equal((await h.storage.listPrivacyCharges('careful/synthetic')).length, 1);

    // A run without differential privacy: the careful member refuses outright.
    const plain = await startRun(h, { rounds: 1, minAvailableMembers: 3, minTrainMembers: 2, train, fractionEvaluate: 0, minEvaluateMembers: 0 });
    assert.equal(await waitForRun(h, plain), 'completed');
    const [only] = await h.storage.listRounds(plain);
    assert.match(only!.failures.find((f) => f.reason.includes('declined'))!.reason, /trains only under differential privacy/);
  });

  it('central DP-FedAvg clips every update on the coordinator and adds calibrated noise', async () => {
    h = await startHarness();
    // Two honest members move every weight by 1; one attacker by 1000. With C = √6 each
    // update is clipped to norm √6, i.e. at most 1 per weight, so the average stays near 1
    // (plus noise of std zC/m = 0.1·√6/3 per weight), where plain FedAvg would give ≈ 334.
    addMember(h, 'honest-1', 10, plus(1));
    addMember(h, 'honest-2', 10, plus(1));
    addMember(h, 'attacker', 10, plus(1000));
    const runId = await startRun(h, {
      rounds: 1,
      minAvailableMembers: 3,
      minTrainMembers: 3,
      differentialPrivacy: { level: 'client', noiseMultiplier: 0.1, clippingNorm: Math.sqrt(6), budget: { epsilon: 1e6, delta: 1e-5 } },
    });
    assert.equal(await waitForRun(h, runId), 'completed');
    const values = (await h.storage.getCheckpoint(runId, 1))!.parameters.data;
    const sigma = (0.1 * Math.sqrt(6)) / 3;
    for (const v of values) assert.ok(Math.abs(v - 1) < 6 * sigma, `weight ${v}`);
    const [round] = await h.storage.listRounds(runId);
    assert.ok(Math.abs(round!.trainMetrics.dpNoiseStddev! - sigma) < 1e-6, `noise std ${round!.trainMetrics.dpNoiseStddev}`);
    // Client level: every member of the population is charged one step at q = 3/3.
    assert.equal((await h.storage.listPrivacyCharges()).length, 3);
  });

  it('refuses configurations that cannot work, before anything is stored', async () => {
    h = await startHarness();
    const post = (config: unknown) =>
      fetch(`${h!.url}/v1/runs`, { method: 'POST', headers: { authorization: `Bearer ${OPERATOR}`, 'content-type': 'application/json' }, body: JSON.stringify(config) });
    const model = { family: 'mlp', inputShape: [2], classes: 2 };
    let res = await post({ model, rounds: 1, secureAggregation: true, strategy: { name: 'krum' } });
    let body = (await res.json()) as { error: { code: string; message: string; details: { field: string } } };
    assert.equal(res.status, 400);
    assert.equal(body.error.details.field, 'strategy.name');
    assert.match(body.error.message, /krum needs individual updates/);
    res = await post({ model, rounds: 1, secureAggregation: true, differentialPrivacy: { level: 'client', mode: 'central', noiseMultiplier: 1, clippingNorm: 1, budget: { epsilon: 1, delta: 1e-5 } } });
    body = (await res.json()) as typeof body;
    assert.equal(body.error.details.field, 'differentialPrivacy.mode');
    res = await post({ model, rounds: 1, differentialPrivacy: { level: 'sample', noiseMultiplier: 1, clippingNorm: 1, budget: { epsilon: -1, delta: 1e-5 } } });
    body = (await res.json()) as typeof body;
    assert.equal(body.error.details.field, 'differentialPrivacy.budget.epsilon');
    res = await post({ model, rounds: 1, differentialPrivacy: { level: 'client', calibration: 'budget', noiseMultiplier: 1, clippingNorm: 1, budget: { epsilon: 1, delta: 1e-5 } } });
    body = (await res.json()) as typeof body;
    assert.equal(body.error.details.field, 'differentialPrivacy.calibration');
    assert.match(body.error.message, /sets each member's DP-SGD noise \(sample level\)/);
    assert.deepEqual(await h.storage.listRuns(), []);
  });
});
