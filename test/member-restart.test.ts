// A member node killed in the middle of a task and started again on the same state dir,
// with real processes: its new session asks for work while the coordinator still counts
// the old task as open, so that task must fail at once with the reason — not hold the
// round until its deadline (an hour here, far beyond the test's own timeout).

import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { it } from 'node:test';
import type { RoundSummary, RunRecord } from '../src/storage/storage.js';
import { concord, exited, freePort, processScope, until, waitForEvent } from './support/processes.js';

const TOKEN = 'op-member-restart-test';
const { children, tempDir } = processScope();

async function api<T>(url: string, path: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(url + path, { ...init, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' } });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** Two numeric features and a 0/1 label; `rows` decides how long an epoch takes. */
async function csv(file: string, rows: number): Promise<string> {
  const lines = ['x1,x2,label'];
  for (let i = 0; i < rows; i++) lines.push(`${(i % 7) / 7},${(i % 5) / 5},${i % 2}`);
  await writeFile(file, lines.join('\n') + '\n');
  return file;
}

/** Resolves when a line of the child's stderr matches `pattern`. */
function stderrLine(child: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const onData = (d: Buffer) => {
      buffered += d.toString();
      const line = buffered.split('\n').find((l) => pattern.test(l));
      if (line !== undefined) {
        child.stderr!.off('data', onData);
        resolve(line);
      }
    };
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`process exited (${code}) before logging ${pattern}; stderr: ${buffered}`)));
  });
}

it('a node restarted mid-task fails its old task at once, and the round goes on without waiting for the deadline', { timeout: 240_000 }, async () => {
  const dir = await tempDir('concord-member-restart-');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const coordinator = concord(['coordinator', '--port', String(port), '--db', join(dir, 'coordinator.sqlite'), '--operator-token', TOKEN, '--json']);
  children.push(coordinator);
  await waitForEvent(coordinator, 'listening');

  const small = await csv(join(dir, 'small.csv'), 20);
  // So many rows at batch size 1 that the victim is still training when it is killed, however slow the machine.
  const big = await csv(join(dir, 'big.csv'), 20_000);
  const node = (name: string, file: string): ChildProcess => {
    const child = concord(['node', '--coordinator', url, '--name', name, '--data', `csv:${file},label=label`, '--state-dir', join(dir, 'nodes'), '--json']);
    children.push(child);
    return child;
  };
  node('quick-0', small);
  node('quick-1', small);
  const victim = node('victim', big);
  const members = await until(async () => {
    const { members } = await api<{ members: { memberId: string; name: string; online: boolean }[] }>(url, '/v1/members');
    return members.filter((m) => m.online).length === 3 ? members : undefined;
  }, 90_000, 'three members online');
  const victimId = members.find((m) => m.name === 'victim')!.memberId;

  const working = stderrLine(victim, /round 1 train: working on task/);
  const { runId } = await api<{ runId: string }>(url, '/v1/runs', {
    method: 'POST',
    body: JSON.stringify({
      name: 'restart-mid-task',
      model: { family: 'mlp', inputShape: [2], hidden: [], classes: 2 },
      rounds: 1,
      minAvailableMembers: 3,
      minTrainMembers: 2,
      train: { epochs: 50, batchSize: 1, learningRate: 0.05 },
      roundDeadlineSeconds: 3600,
    }),
  });
  await working;

  // The new session starts on the same state dir (same key, same enrollment); the old one
  // dies without a word. Which of the two happens first does not matter to the coordinator.
  const restarted = node('victim', big);
  await stderrLine(restarted, /loaded identity/);
  victim.kill('SIGKILL');
  await exited(victim);

  const final = await until(async () => {
    const body = await api<{ run: RunRecord; rounds: RoundSummary[] }>(url, `/v1/runs/${runId}`);
    return body.run.status === 'completed' ? body : undefined;
  }, 180_000, 'the run to complete');
  const [round] = final.rounds;
  assert.deepEqual(round!.failures, [{ memberId: victimId, reason: 'the member asked for new work while this task was open: it restarted or lost the task' }]);
  assert.equal(round!.participants.length, 2);
  assert.ok(!round!.participants.includes(victimId));
});
