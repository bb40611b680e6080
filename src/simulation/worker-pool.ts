// Simulated members' tasks in worker threads: each worker rebuilds the population from its
// spec and answers the task frames of the members assigned to it (member index mod workers,
// so one member's secure-aggregation stages always reach the same thread). Frames cross
// threads as transferred buffers, not copies.

import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { initBackend } from '../model/backend.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { answerFrame } from './member-executor.js';
import type { MemberAnswer, MemberExecutor } from './memory-grid.js';
import { Population, type PopulationSpec } from './population.js';
import { SimulatedMembers } from './simulated-members.js';

interface WorkerSetup {
  population: PopulationSpec;
  maxKept: number;
}

type Request = { id: number; index: number; memberId: string; frame: Uint8Array };
type Reply = { id: number; answer: MemberAnswer } | { id: number; error: string };

export interface WorkerPoolOptions {
  population: PopulationSpec;
  workers: number;
  /** Members whose handlers each worker keeps between tasks. */
  maxKept: number;
  /** The population index of an enrolled member id. */
  indexOf: (memberId: string) => number | undefined;
}

export class WorkerPoolExecutor implements MemberExecutor {
  private readonly workers: Worker[];
  private readonly pending = new Map<number, { resolve: (a: MemberAnswer) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private failed: Error | null = null;

  constructor(private readonly options: WorkerPoolOptions) {
    if (!Number.isInteger(options.workers) || options.workers < 1) throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `workers must be an integer >= 1, got ${options.workers}`, { details: { field: 'workers', received: options.workers } });
    const setup: WorkerSetup = { population: options.population, maxKept: options.maxKept };
    this.workers = Array.from({ length: options.workers }, () => startWorker(setup));
    for (const worker of this.workers) {
      worker.on('message', (reply: Reply) => {
        const waiting = this.pending.get(reply.id);
        if (!waiting) return;
        this.pending.delete(reply.id);
        if ('error' in reply) waiting.reject(new Error(reply.error));
        else waiting.resolve(reply.answer);
      });
      const die = (error: Error): void => {
        this.failed = error;
        for (const w of this.pending.values()) w.reject(error);
        this.pending.clear();
      };
      worker.on('error', die);
      worker.on('exit', (code) => {
        if (code !== 0) die(new Error(`a simulation worker exited with code ${code}`));
      });
    }
  }

  run(memberId: string, frame: Uint8Array): Promise<MemberAnswer> {
    if (this.failed) return Promise.reject(this.failed);
    const index = this.options.indexOf(memberId);
    if (index === undefined) return Promise.reject(new ConcordError(ErrorCode.NOT_FOUND, `${memberId} is not a simulated member`));
    const id = this.nextId++;
    // The frame may be a view into a larger buffer: copy it into one of its own to transfer.
    const own = frame.slice();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.workers[index % this.workers.length]!.postMessage({ id, index, memberId, frame: own } satisfies Request, [own.buffer]);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

function startWorker(setup: WorkerSetup): Worker {
  // Compiled, this file is .js; under tsx (tests importing src/) it is .ts and the worker
  // registers tsx itself before loading it.
  return import.meta.url.endsWith('.ts')
    ? new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(import.meta.url)}); })`, { eval: true, workerData: setup })
    : new Worker(new URL(import.meta.url), { workerData: setup });
}

if (!isMainThread && parentPort && (workerData as WorkerSetup | undefined)?.population) {
  const port = parentPort;
  const setup = workerData as WorkerSetup;
  const ready = initBackend().then(() => new SimulatedMembers(new Population(setup.population), setup.maxKept));
  // One task at a time: TF.js in a thread trains one model at once anyway.
  let chain: Promise<unknown> = Promise.resolve();
  port.on('message', (request: Request) => {
    chain = chain.then(async () => {
      try {
        const members = await ready;
        const answer = await answerFrame(members.handler(request.index, request.memberId), request.memberId, request.frame);
        if (answer.ok) {
          const body = answer.body.byteOffset === 0 && answer.body.byteLength === answer.body.buffer.byteLength ? answer.body : answer.body.slice();
          port.postMessage({ id: request.id, answer: { ok: true, body } } satisfies Reply, [body.buffer as ArrayBuffer]);
        } else {
          port.postMessage({ id: request.id, answer } satisfies Reply);
        }
      } catch (error) {
        port.postMessage({ id: request.id, error: error instanceof Error ? error.message : String(error) } satisfies Reply);
      }
    });
  });
}
