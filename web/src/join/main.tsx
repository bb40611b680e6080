// The zero-install member at /join: pick local data (a CSV file or the demo shard), enroll
// with an invitation code (or under open enrollment), then take part in rounds: long-poll
// for tasks, train here with TensorFlow.js, send back only weights and metrics. Tasks this
// page cannot do faithfully (secure aggregation, differential privacy, FedProx, another input
// schema) are declined with the reason, so the round goes on without it.
import { render } from 'preact';
import { useState } from 'preact/hooks';
import type { TaskHeader } from '../../../src/protocol/messages.js';
import { demoShard, describe, parseCsv, schemaMismatch, type LocalData } from './local-data.js';
import { evaluateTask, pickBackend, trainTask } from './trainer.js';
import { BrowserClient, loadIdentity, loadMember, saveMember } from './wire.js';

const POLL_MS = 20_000;
const HEARTBEAT_MS = 5_000;

/** Why this page declines `task`, or null when it can run it. */
function declineReason(task: TaskHeader, data: LocalData): string | null {
  if (task.kind === 'secagg') return 'the browser member does not support secure aggregation yet';
  if (task.config.privacy) return 'the browser member does not support differential privacy yet';
  if (task.config.proximalMu > 0) return 'the browser member does not support the FedProx proximal term yet';
  const mismatch = schemaMismatch(data, task.model);
  return mismatch ? `this member's data does not fit the run: ${mismatch}` : null;
}

async function serve(client: BrowserClient, data: LocalData, log: (line: string) => void, progress: (text: string) => void, done: () => void): Promise<never> {
  for (;;) {
    let task: Awaited<ReturnType<BrowserClient['nextTask']>>;
    try {
      task = await client.nextTask(POLL_MS);
    } catch (error) {
      log(`coordinator unreachable or refused (${(error as Error).message}); retrying`);
      await new Promise((r) => setTimeout(r, 2000));
      continue;
    }
    if (!task) continue;
    const { header, parameters } = task;
    const base = { taskId: header.taskId, runId: header.runId, round: header.round };
    const beat = setInterval(() => void client.heartbeat().catch(() => undefined), HEARTBEAT_MS);
    try {
      const reason = declineReason(header, data);
      if (reason || !parameters) {
        await client.decline(header.taskId, reason ?? `${header.kind} task carries no model`);
        log(`round ${header.round}: declined: ${reason}`);
      } else if (header.kind === 'train') {
        progress(`round ${header.round}: training…`);
        const out = await trainTask(data, header, parameters, (epoch, loss) => progress(`round ${header.round}: epoch ${epoch + 1}/${header.config.epochs}, loss ${loss.toFixed(4)}`));
        await client.submitResult({ ...base, kind: 'train', numExamples: out.numExamples, metrics: out.metrics }, out.parameters);
        log(`round ${header.round}: trained ${out.numExamples} examples, loss ${out.metrics.loss!.toFixed(4)}; weights sent`);
        done();
      } else {
        const out = await evaluateTask(data, header, parameters);
        await client.submitResult({ ...base, kind: 'evaluate', numExamples: out.numExamples, metrics: out.metrics });
        log(`round ${header.round}: evaluated, accuracy ${out.metrics.accuracy!.toFixed(3)}`);
      }
    } catch (error) {
      const message = `the task failed in the browser: ${(error as Error).message}`.slice(0, 2000);
      log(`round ${header.round}: ${message}`);
      await client.decline(header.taskId, message).catch(() => undefined);
    } finally {
      clearInterval(beat);
      progress('waiting for the next task');
    }
  }
}

function Join() {
  const [data, setData] = useState<LocalData | null>(null);
  const [error, setError] = useState('');
  const [name, setName] = useState('');
  const [invitation, setInvitation] = useState('');
  const [memberId, setMemberId] = useState('');
  const [lines, setLines] = useState<string[]>([]);
  const [progress, setProgress] = useState('');
  const [trained, setTrained] = useState(0);
  const log = (line: string) => setLines((l) => [...l.slice(-49), line]);

  const pickFile = async (file: File | undefined) => {
    if (!file) return;
    try {
      setData(parseCsv(await file.text(), file.name));
      setError('');
    } catch (e) {
      setData(null);
      setError((e as Error).message);
    }
  };

  const join = async () => {
    if (!data) return;
    setError('');
    try {
      const identity = await loadIdentity();
      const client = new BrowserClient(window.location.origin, identity);
      const saved = await loadMember();
      const memberName = name.trim() || saved?.name || `browser-${identity.publicKey.slice(0, 8).toLowerCase().replace(/[^a-z0-9]/g, 'x')}`;
      const id = await client.enroll(memberName, describe(data), invitation.trim() || undefined);
      await saveMember({ memberId: id, name: memberName, url: client.url });
      setMemberId(id);
      log(`enrolled as ${memberName} (${id}); TensorFlow.js backend: ${await pickBackend()}`);
      setProgress('waiting for the next task');
      void serve(client, data, log, setProgress, () => setTrained((n) => n + 1));
    } catch (e) {
      setError(`enrollment failed: ${(e as Error).message}`);
    }
  };

  return (
    <main>
      <h1>Join the consortium from this browser</h1>
      <p>Your data stays in this page: only its size and shape are sent at enrollment, and only model weights and metrics after each round.</p>
      <section aria-label="Local data">
        <h2>1. Your data</h2>
        <label>
          CSV file (numeric features, label in the last column){' '}
          <input type="file" accept=".csv,text/csv" data-testid="csv-file" disabled={!!memberId} onChange={(e) => void pickFile((e.target as HTMLInputElement).files?.[0])} />
        </label>{' '}
        <button type="button" data-testid="demo-shard" disabled={!!memberId} onClick={() => { setData(demoShard()); setError(''); }}>
          Use the demo shard
        </button>
        {data && <p data-testid="data-summary">{data.name}: {data.train} training rows, {data.y.length - data.train} holdout rows, {data.features} features, {data.classes} classes</p>}
      </section>
      <section aria-label="Enrollment">
        <h2>2. Enroll</h2>
        <label>Member name <input data-testid="member-name" value={name} disabled={!!memberId} onInput={(e) => setName((e.target as HTMLInputElement).value)} /></label>{' '}
        <label>Invitation code <input data-testid="invitation" value={invitation} disabled={!!memberId} placeholder="not needed under open enrollment" onInput={(e) => setInvitation((e.target as HTMLInputElement).value)} /></label>{' '}
        <button type="button" data-testid="join" disabled={!data || !!memberId} onClick={() => void join()}>Join</button>
      </section>
      {error && <p role="alert" class="error">{error}</p>}
      {memberId && (
        <section aria-label="Rounds">
          <h2>3. Rounds</h2>
          <p>Member <code data-testid="member-id">{memberId}</code> — <span data-testid="rounds-trained">{trained}</span> rounds trained</p>
          <p role="status" data-testid="progress">{progress}</p>
          <ol data-testid="log">{lines.map((l, i) => <li key={i}>{l}</li>)}</ol>
        </section>
      )}
    </main>
  );
}

render(<Join />, document.getElementById('join')!);
