// The one place Concord talks to NATS JetStream (https://docs.nats.io/nats-concepts/jetstream):
// connecting, declaring the streams and durable consumers the distributed pieces share, and
// moving payloads that may exceed NATS's max_payload (1 MiB by default) through the object
// store. Work beyond one machine — simulation workers (simulation/jetstream-executor.ts) and
// shard aggregators (distributed/shard-aggregator.ts) — is built on these work queues: a
// message stays in its stream until a consumer acknowledges it, and one not acknowledged
// within ackWait is delivered again (at most maxDeliver times), so a process killed mid-task
// loses no work.

import { AckPolicy, DeliverPolicy, type JetStreamClient, type JetStreamManager, type JsMsg, RetentionPolicy, StorageType, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Objm, type ObjectStore } from '@nats-io/obj';
import { type MsgHdrs, type NatsConnection, connect, headers as natsHeaders, nanos } from '@nats-io/transport-node';
import { ConcordError, ErrorCode } from '../protocol/errors.js';

/** Payloads larger than this travel through the object store; the message carries the object's name. */
export const INLINE_LIMIT_BYTES = 256 * 1024;
const BLOB_HEADER = 'Concord-Blob';
const BLOB_BUCKET = 'concord-blobs';

export interface JetStreamLink {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly blobs: ObjectStore;
  close(): Promise<void>;
}

/** "nats://host:4222,nats://other:4222" or a list: the servers of one NATS cluster. */
export function parseServers(servers: string | readonly string[]): string[] {
  const list = (typeof servers === 'string' ? servers.split(',') : [...servers]).map((s) => s.trim()).filter((s) => s.length > 0);
  if (list.length === 0) throw new ConcordError(ErrorCode.INVALID_ARGUMENT, 'no NATS server given; expected e.g. nats://127.0.0.1:4222', { details: { field: 'nats', expected: 'nats://host:port', received: String(servers) } });
  for (const s of list) {
    if (!/^(nats|tls):\/\/[^\s/]+(:\d+)?\/?$/.test(s) && !/^[^\s/:]+:\d+$/.test(s)) {
      throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${s} is not a NATS server address; expected nats://host:port`, { details: { field: 'nats', expected: 'nats://host:port', received: s } });
    }
  }
  return list;
}

/** Connects and makes sure the blob bucket exists. */
export async function openJetStream(servers: string | readonly string[], options: { name?: string } = {}): Promise<JetStreamLink> {
  const list = parseServers(servers);
  let nc: NatsConnection;
  try {
    nc = await connect({ servers: list, name: options.name ?? 'concord', maxReconnectAttempts: -1, reconnectTimeWait: 500 });
  } catch (error) {
    throw new ConcordError(ErrorCode.UNAVAILABLE, `cannot reach NATS at ${list.join(', ')}: ${error instanceof Error ? error.message : String(error)}`, { cause: error, details: { field: 'nats', received: list.join(',') } });
  }
  try {
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    const blobs = await new Objm(nc).create(BLOB_BUCKET, { storage: StorageType.File });
    return {
      nc,
      js,
      jsm,
      blobs,
      close: async () => {
        if (!nc.isClosed()) await nc.drain().catch(() => nc.close());
      },
    };
  } catch (error) {
    await nc.close();
    throw new ConcordError(ErrorCode.UNAVAILABLE, `NATS at ${list.join(', ')} has no JetStream (start nats-server with -js): ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

/** A stream kept until each message is acknowledged once (a work queue), or kept for a while (limits). */
export async function ensureStream(link: JetStreamLink, name: string, subjects: string[], retention: 'workqueue' | 'limits', maxAgeMs = 24 * 3600_000): Promise<void> {
  const config = {
    name,
    subjects,
    retention: retention === 'workqueue' ? RetentionPolicy.Workqueue : RetentionPolicy.Limits,
    storage: StorageType.File,
    max_age: nanos(maxAgeMs),
    duplicate_window: nanos(Math.min(maxAgeMs, 2 * 60_000)),
  };
  try {
    await link.jsm.streams.info(name);
  } catch {
    try {
      await link.jsm.streams.add(config);
    } catch (error) {
      // Another process made it first.
      await link.jsm.streams.info(name).catch(() => {
        throw error;
      });
    }
  }
}

export interface DurableOptions {
  /** How long a delivered message may stay unacknowledged before it is delivered again. */
  ackWaitMs: number;
  /** Deliveries before a message is given up on. */
  maxDeliver: number;
  /** Messages delivered and not yet acknowledged, across every process sharing the consumer. */
  maxAckPending?: number;
}

/** A durable pull consumer shared by every process that names it; created if missing, updated to `options` otherwise. */
export async function ensureDurable(link: JetStreamLink, stream: string, durable: string, filterSubject: string, options: DurableOptions): Promise<void> {
  const config = {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: filterSubject,
    ack_wait: nanos(options.ackWaitMs),
    max_deliver: options.maxDeliver,
    max_ack_pending: options.maxAckPending ?? 100_000,
  };
  try {
    const info = await link.jsm.consumers.info(stream, durable);
    if (info.config.ack_wait !== config.ack_wait || info.config.max_deliver !== config.max_deliver || info.config.max_ack_pending !== config.max_ack_pending) {
      await link.jsm.consumers.update(stream, durable, { ack_wait: config.ack_wait, max_deliver: config.max_deliver, max_ack_pending: config.max_ack_pending });
    }
  } catch {
    try {
      await link.jsm.consumers.add(stream, config);
    } catch (error) {
      await link.jsm.consumers.info(stream, durable).catch(() => {
        throw error;
      });
    }
  }
}

/**
 * Publishes `payload` on `subject` with `fields` as headers; a payload over the inline limit
 * is first stored as object `blobName` (written before the message, so whoever reads the
 * message finds it). `msgId` lets JetStream drop a duplicate published again after a restart.
 */
export async function publishPayload(link: JetStreamLink, subject: string, fields: Record<string, string>, payload: Uint8Array, options: { blobName: string; msgId?: string }): Promise<{ seq: number; blob: string | null }> {
  const h = natsHeaders();
  for (const [k, v] of Object.entries(fields)) h.set(k, v);
  let blob: string | null = null;
  let body = payload;
  if (payload.byteLength > INLINE_LIMIT_BYTES) {
    await link.blobs.putBlob({ name: options.blobName }, payload);
    h.set(BLOB_HEADER, options.blobName);
    blob = options.blobName;
    body = new Uint8Array(0);
  }
  const ack = await link.js.publish(subject, body, { headers: h, ...(options.msgId ? { msgID: options.msgId } : {}) });
  return { seq: ack.seq, blob };
}

/** The payload of a message published with publishPayload. */
export async function readPayload(link: JetStreamLink, headers: MsgHdrs | undefined, data: Uint8Array): Promise<Uint8Array> {
  const blob = headers?.get(BLOB_HEADER);
  if (!blob) return data;
  const bytes = await link.blobs.getBlob(blob);
  if (!bytes) throw new ConcordError(ErrorCode.NOT_FOUND, `object ${blob} named by a message is not in the ${BLOB_BUCKET} bucket`, { details: { field: BLOB_HEADER, received: blob } });
  return bytes;
}

/** Removes a blob that is no longer needed; one already gone is fine. */
export async function dropBlob(link: JetStreamLink, name: string | null | undefined): Promise<void> {
  if (name) await link.blobs.delete(name).catch(() => undefined);
}

export function blobOf(headers: MsgHdrs | undefined): string | null {
  return headers?.get(BLOB_HEADER) || null;
}

/** A required header of a delivered message, or an INVALID_MESSAGE error naming it. */
export function header(msg: JsMsg, name: string): string {
  const value = msg.headers?.get(name);
  if (!value) throw new ConcordError(ErrorCode.INVALID_MESSAGE, `message on ${msg.subject} lacks header ${name}`, { details: { field: name } });
  return value;
}

/**
 * Keeps a delivered message from being redelivered while it is still being worked on:
 * tells the server "in progress" every ackWait/3. Returns the function that stops it.
 */
export function keepAlive(msgs: () => Iterable<JsMsg>, ackWaitMs: number): () => void {
  const timer = setInterval(() => {
    for (const m of msgs()) m.working();
  }, Math.max(100, Math.floor(ackWaitMs / 3)));
  timer.unref();
  return () => clearInterval(timer);
}

/** A token safe inside a NATS subject (no dots, spaces or wildcards). */
export function subjectToken(value: string, field: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(value)) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${field} ${JSON.stringify(value)} cannot be part of a NATS subject; use letters, digits, _ and -`, { details: { field, expected: '[A-Za-z0-9_-]+', received: value } });
  }
  return value;
}

/** Any string as a subject token, reversibly (hex of its UTF-8), for ids that may hold dots. */
export function encodeToken(value: string): string {
  return Buffer.from(value, 'utf8').toString('hex') || '_';
}
