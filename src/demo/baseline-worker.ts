// Runs the centralised baseline (baseline.ts) in a worker thread, so it trains alongside
// the federation's member processes: epochs and the result go back as messages.

import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { trainBaseline, type BaselineJob, type EpochListener } from './baseline.js';

type Message = { kind: 'epoch'; epoch: number; epochs: number; loss: number } | { kind: 'done'; score: number } | { kind: 'failed'; message: string };

/** Starts the baseline in a worker; the promise holds the task's metric of the pooled model. */
export function startBaseline(job: BaselineJob, onEpoch: EpochListener): { result: Promise<number>; cancel: () => void } {
  // Compiled to dist/ this file is .js. Under tsx (tests importing src/) it is .ts, and a
  // worker does not inherit the loader: it registers tsx itself before loading this file.
  const worker = import.meta.url.endsWith('.ts')
    ? new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(import.meta.url)}); })`, { eval: true, workerData: job })
    : new Worker(new URL(import.meta.url), { workerData: job });
  const result = new Promise<number>((resolve, reject) => {
    worker.on('message', (m: Message) => {
      if (m.kind === 'epoch') onEpoch(m.epoch, m.epochs, m.loss);
      else if (m.kind === 'done') resolve(m.score);
      else reject(new ConcordError(ErrorCode.INTERNAL, `the centralised baseline failed: ${m.message}`));
    });
    worker.on('error', reject);
    worker.on('exit', (code) => reject(new ConcordError(ErrorCode.INTERNAL, `the centralised baseline's worker exited with code ${code} before finishing`)));
  });
  return { result, cancel: () => void worker.terminate() };
}

if (!isMainThread && parentPort) {
  const port = parentPort;
  trainBaseline(workerData as BaselineJob, (epoch, epochs, loss) => port.postMessage({ kind: 'epoch', epoch, epochs, loss } satisfies Message))
    .then((score) => port.postMessage({ kind: 'done', score } satisfies Message))
    .catch((error: unknown) => port.postMessage({ kind: 'failed', message: error instanceof Error ? error.message : String(error) } satisfies Message))
    .finally(() => port.close());
}
