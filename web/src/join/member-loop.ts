// The browser member's task loop. It runs the Node member's own handler stack
// (src/node/tfjs-handler.ts: local training with FedProx, DP-SGD and resource caps, client
// DP noise; src/node/secagg-handler.ts: the SecAgg+ member), so a round cannot tell a browser
// from a node: only the transport (WebCrypto-signed fetch, wire.ts) and the SecAgg+ crypto
// backend (@noble, because WebCrypto is asynchronous and the member state machine is not)
// differ. Tasks it cannot run are declined with the reason, so the round goes on without it.

import type { MemberData } from '../../../src/data/dataset.js';
import { withSecureAggregation } from '../../../src/node/secagg-handler.js';
import { createTfjsHandler } from '../../../src/node/tfjs-handler.js';
import { answerTask } from '../../../src/node/answer-task.js';
import type { TaskHandler } from '../../../src/node/member.js';
import { withPrivacyBudget } from '../../../src/node/privacy-guard.js';
import type { PrivacyBudget } from '../../../src/privacy/dp/budget.js';
import { noblePrimitives } from '../../../src/privacy/secagg/primitives-noble.js';
import { ErrorCode, isConcordError } from '../../../src/protocol/errors.js';
import type { TaskHeader } from '../../../src/protocol/messages.js';
import type { Parameters } from '../../../src/protocol/tensors.js';
import { verifyTaskApproval } from './approval.js';
import { describe, type LocalData } from './local-data.js';
import { schemaMismatch } from './data-fit.js';
import { type BrowserClient, ledgerStore } from './wire.js';

const POLL_MS = 20_000;
const HEARTBEAT_MS = 5_000;

export interface MemberLoopOptions {
  client: BrowserClient;
  data: LocalData;
  memberId: string;
  memberName: string;
  /** The data owner's Ed25519 key: when set, only plans it approved are trained on. */
  ownerKey?: string;
  /** This member's own privacy budget: when set, it trains only under DP and within it, by its own ledger. */
  privacyBudget?: PrivacyBudget;
  log: (line: string) => void;
  progress: (text: string) => void;
  /** After each accepted training contribution (plain or masked). */
  onTrained: () => void;
  /** Each training or evaluation result sent, with its loss and accuracy (recommenders: RMSE) where reported (the page's progress chart). */
  onResult?: (result: { runId: string; round: number; kind: 'train' | 'evaluate'; loss?: number; accuracy?: number; rmse?: number }) => void;
}

/** The page's data as the member stack expects it: training rows first, the member's holdout after. */
export function memberData(data: LocalData): MemberData {
  const f = data.features;
  const shape = data.inputShape;
  return {
    train: { x: data.x.subarray(0, data.train * f), y: data.y.subarray(0, data.train), inputShape: shape, classes: data.classes },
    holdout: { x: data.x.subarray(data.train * f), y: data.y.subarray(data.train), inputShape: shape, classes: data.classes },
    descriptor: describe(data),
  };
}

/** The same seed derivation as the Node member service, so shuffles differ per member. */
function memberSeed(name: string): number {
  let seed = 0;
  for (const ch of name) seed = (seed * 31 + ch.charCodeAt(0)) | 0;
  return seed;
}

/** As the node composes it (src/node/service.ts): training, the member's own privacy ledger, then SecAgg+ around both. */
async function handlerStack(options: MemberLoopOptions): Promise<TaskHandler> {
  const { data, log, progress } = options;
  let handler = createTfjsHandler(memberData(data), {
    memberSeed: memberSeed(options.memberName),
    log,
    onEpoch: (task, epoch, loss) => progress(`round ${task.round}: epoch ${epoch + 1}/${task.config.epochs}, loss ${loss.toFixed(4)}`),
  });
  if (options.privacyBudget) {
    handler = await withPrivacyBudget(handler, {
      budget: options.privacyBudget,
      datasetId: `${options.memberName}/${data.name}`,
      numExamples: data.train,
      store: ledgerStore(options.memberName),
      log,
    });
  }
  return withSecureAggregation(handler, { memberId: () => options.memberId, primitives: noblePrimitives, log });
}

/** Why this page declines `task` before running it, or null. Approval is checked separately (it is asynchronous). */
function declineReason(task: TaskHeader, data: LocalData): string | null {
  const mismatch = schemaMismatch(data, task.model);
  return mismatch ? `this member's data does not fit the run: ${mismatch}` : null;
}

/** Training and every secure-aggregation stage touch the data (or commit to it); evaluation reports on the holdout only. */
const needsApproval = (task: TaskHeader): boolean => task.kind === 'train' || task.kind === 'secagg';

/** Tasks in which this member trains on its data: plain training, and the masking stage of secure aggregation. */
const trainsHere = (task: TaskHeader): boolean => task.kind === 'train' || task.stage === 'collectMaskedVectors';

/** Runs the task with the member stack (the node's answerTask), sends the result, and says what happened. */
async function run(handler: TaskHandler, client: BrowserClient, header: TaskHeader, global: Parameters | null, options: MemberLoopOptions): Promise<void> {
  if (trainsHere(header)) options.progress(`round ${header.round}: training…`);
  const { result, parameters } = await answerTask(handler, header, global);
  await client.submitResult(result, parameters);
  const kind = header.kind === 'evaluate' ? 'evaluate' : trainsHere(header) ? 'train' : null;
  if (kind) {
    const { loss, accuracy, rmse } = result.metrics;
    options.onResult?.({ runId: header.runId, round: header.round, kind, ...(loss !== undefined ? { loss } : {}), ...(accuracy !== undefined ? { accuracy } : {}), ...(rmse !== undefined ? { rmse } : {}) });
  }
  if (header.kind === 'evaluate') {
    const { accuracy, rmse } = result.metrics;
    options.log(`round ${header.round}: evaluated, ${accuracy === undefined && rmse !== undefined ? `RMSE ${rmse.toFixed(3)}` : `accuracy ${Number(accuracy ?? NaN).toFixed(3)}`}`);
  } else if (!trainsHere(header)) {
    options.log(`round ${header.round}: secure aggregation ${header.stage} answered`);
  } else {
    options.log(`round ${header.round}: ${header.kind === 'secagg' ? 'masked update' : 'weights'} sent (${result.numExamples} examples)`);
    options.onTrained();
  }
}

/** How a run asks this member to train, said once per run in the log. */
function trainingSummary(task: TaskHeader): string {
  const parts: string[] = [];
  if (task.kind === 'secagg') parts.push('secure aggregation (only a masked update leaves the page)');
  const privacy = task.config.privacy;
  if (privacy?.level === 'sample') parts.push(`DP-SGD (noise multiplier ${privacy.noiseMultiplier}, clipping norm ${privacy.clippingNorm})`);
  if (privacy?.level === 'client') parts.push(`client-level DP (update clipped to ${privacy.clippingNorm}${privacy.mode === 'distributed' ? `, noise σ ${privacy.noiseStddev.toPrecision(3)} added here` : ', noise added by the coordinator'})`);
  if (task.config.proximalMu > 0) parts.push(`FedProx (μ = ${task.config.proximalMu})`);
  if (task.plan) parts.push(`plan "${String((task.plan as { title?: unknown }).title ?? '?')}"`);
  return parts.length > 0 ? parts.join(', ') : 'plain federated training';
}

/** Long-polls for tasks and answers them until the page closes. */
export async function serve(options: MemberLoopOptions): Promise<never> {
  const { client, log, progress } = options;
  const handler = await handlerStack(options);
  const described = new Set<string>();
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
    const beat = setInterval(() => void client.heartbeat().catch(() => undefined), HEARTBEAT_MS);
    try {
      let reason = declineReason(header, options.data);
      if (!reason && options.ownerKey && needsApproval(header)) {
        reason = await verifyTaskApproval(header, options.ownerKey, options.memberName).then(
          () => null,
          (error: Error) => error.message,
        );
      }
      if (!reason && trainsHere(header) && !described.has(header.runId)) {
        described.add(header.runId);
        log(`run ${header.runId}: ${trainingSummary(header)}`);
      }
      if (reason) {
        await client.decline(header.taskId, reason);
        log(`round ${header.round}: declined: ${reason}`);
      } else {
        await run(handler, client, header, parameters, options);
      }
    } catch (error) {
      // FORBIDDEN is a handler's refusal (its privacy budget, a SecAgg+ check): declined as the node does.
      const refused = isConcordError(error) && error.code === ErrorCode.FORBIDDEN;
      const message = (refused ? (error as Error).message : `the task failed in the browser: ${(error as Error).message}`).slice(0, 2000);
      log(`round ${header.round}: ${refused ? 'declined: ' : ''}${message}`);
      await client.decline(header.taskId, message).catch(() => undefined);
    } finally {
      clearInterval(beat);
      progress('waiting for the next task');
    }
  }
}
