// Every model family through one federated round with real member processes: a `concord
// coordinator` and two `concord node`s per kind of data (MNIST digits, SpamAssassin mail,
// generated ratings), over HTTP, on the members' own data. Each round must complete with both
// members, move the global model, and report the family's metric from the members' holdouts.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { decodeFrame } from '../src/protocol/frame.js';
import { concord, processScope, until, waitForEvent } from './support/processes.js';

const { children, tempDir } = processScope();
const TOKEN = 'op_families_rounds_token_000000000000';
const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

interface Round {
  round: number;
  participants: string[];
  evalLoss: number | null;
  evalMetrics: Record<string, number>;
}

/** A coordinator and two members on `data(i)`; then each model in `models` gets a one-round run. */
async function roundsOn(data: (member: number) => string, models: Record<string, unknown>[], train: Record<string, unknown>): Promise<{ model: Record<string, unknown>; round: Round; moved: number }[]> {
  const dir = await tempDir('concord-families-');
  const coordinator = concord(['coordinator', '--port', '0', '--db', join(dir, 'coordinator.sqlite'), '--operator-token', TOKEN, '--json']);
  children.push(coordinator);
  const url = (await waitForEvent(coordinator, 'listening')).url as string;
  const nodes = [0, 1].map((i) => concord(['node', '--coordinator', url, '--name', `org-${i}`, '--data', data(i), '--state-dir', join(dir, 'nodes')]));
  children.push(...nodes);
  try {
    await until(async () => ((await (await fetch(`${url}/v1/members`, { headers })).json()) as { members: { online: boolean }[] }).members.filter((m) => m.online).length === 2, 120_000, 'two members online');
    const out = [];
    for (const model of models) {
      const res = await fetch(`${url}/v1/runs`, { method: 'POST', headers, body: JSON.stringify({ name: String(model.family), model, rounds: 1, train, roundDeadlineSeconds: 120, maxRoundAttempts: 1 }) });
      const { runId, error } = (await res.json()) as { runId?: string; error?: { message: string } };
      assert.ok(runId, `${String(model.family)}: ${error?.message}`);
      const final = await until(async () => {
        const body = (await (await fetch(`${url}/v1/runs/${runId}`, { headers })).json()) as { run: { status: string; error: string | null }; rounds: Round[] };
        return body.run.status === 'running' || body.run.status === 'pending' ? undefined : body;
      }, 180_000, `the ${String(model.family)} run to end`);
      assert.equal(final.run.status, 'completed', `${String(model.family)}: ${final.run.error}`);
      const modelAt = async (round: number) => decodeFrame(new Uint8Array(await (await fetch(`${url}/v1/runs/${runId}/model?round=${round}`, { headers })).arrayBuffer())).parameters!.data;
      const [initial, after] = [await modelAt(0), await modelAt(1)];
      assert.equal(after.length, initial.length);
      let moved = 0;
      for (let i = 0; i < after.length; i++) moved = Math.max(moved, Math.abs(after[i]! - initial[i]!));
      out.push({ model, round: final.rounds[0]!, moved });
    }
    return out;
  } finally {
    for (const c of [...nodes, coordinator]) c.kill('SIGTERM');
  }
}

function assertRound(r: { model: Record<string, unknown>; round: Round; moved: number }, metric: 'accuracy' | 'rmse'): void {
  const family = String(r.model.family);
  assert.equal(r.round.participants.length, 2, `${family}: both members trained`);
  assert.ok(r.moved > 0, `${family}: the global model moved`);
  assert.ok(r.round.evalLoss !== null && Number.isFinite(r.round.evalLoss), `${family}: holdout loss ${r.round.evalLoss}`);
  assert.ok(Number.isFinite(r.round.evalMetrics[metric]), `${family}: holdout ${metric} ${JSON.stringify(r.round.evalMetrics)}`);
}

describe('one federated round per model family, with member processes', () => {
  it('mlp, cnn and a brought Layers topology on MNIST digits', { timeout: 400_000 }, async () => {
    const topology = tf
      .sequential({ layers: [tf.layers.flatten({ inputShape: [28, 28, 1] }), tf.layers.dense({ units: 16, activation: 'relu' }), tf.layers.dense({ units: 10, activation: 'softmax' })] })
      .toJSON(null, false) as Record<string, unknown>;
    const results = await roundsOn((i) => `mnist:member=${i},members=2,partition=iid,seed=5,test=100`, [
      { family: 'mlp', inputShape: [784], hidden: [16], classes: 10, dropout: 0.1 },
      { family: 'cnn', inputShape: [28, 28, 1], conv: [{ filters: 4, kernelSize: 3, pool: 2 }], dense: [], classes: 10 },
      { family: 'layers', modelTopology: topology },
    ], { epochs: 1, batchSize: 32, learningRate: 0.1, maxSteps: 30 });
    for (const r of results) {
      assertRound(r, 'accuracy');
      // 30 steps of SGD on digits: well above the 10 % of guessing.
      assert.ok(r.round.evalMetrics.accuracy! > 0.3, `${String(r.model.family)}: holdout accuracy ${r.round.evalMetrics.accuracy}`);
    }
  });

  it('text and transformer on SpamAssassin mail', { timeout: 400_000 }, async () => {
    const results = await roundsOn((i) => `spam:member=${i},members=2,partition=source,vocab=2000,length=32,cls=1,test=0`, [
      { family: 'text', vocabSize: 2000, sequenceLength: 32, embeddingDim: 8, encoder: { type: 'gru', units: 8 }, classes: 2 },
      { family: 'transformer', vocabSize: 2000, sequenceLength: 32, embeddingDim: 8, heads: 2, layers: 1, feedForward: 16, classes: 2 },
    ], { epochs: 1, batchSize: 32, learningRate: 0.01, optimizer: 'adam', maxSteps: 20 });
    for (const r of results) assertRound(r, 'accuracy');
  });

  it('mf on generated ratings: users stay on their members, members report RMSE', { timeout: 400_000 }, async () => {
    const [r] = await roundsOn((i) => `ratings:member=${i},members=2,partition=source`, [{ family: 'mf', items: 400, factors: 4, ratingRange: [1, 5] }], { epochs: 2, learningRate: 0.03 });
    assertRound(r!, 'rmse');
    // Predicting the middle of 1–5 stars is about 1.2 off; two epochs already do better.
    assert.ok(r!.round.evalMetrics.rmse! < 1.2, `rmse ${r!.round.evalMetrics.rmse}`);
  });
});
