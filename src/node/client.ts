// The member's side of the wire protocol (docs/protocol.md): enroll, long-poll for tasks,
// send heartbeats and results. Every request is signed with the member's Ed25519 key
// (governance/signed-request.ts); over HTTPS the coordinator's certificate can be pinned.
// Errors from the coordinator come back as ConcordErrors with the coordinator's code; a
// coordinator that cannot be reached (or whose certificate is not trusted) is UNAVAILABLE.

import { generateIdentity, type Identity } from '../governance/identity.js';
import { signRequest } from '../governance/signed-request.js';
import { ConcordError, ErrorCode, type ErrorCode as Code } from '../protocol/errors.js';
import { FRAME_CONTENT_TYPE, decodeFrame, encodeFrame, encodeFramePrefix, payloadBytes } from '../protocol/frame.js';
import {
  EnrollResponseSchema,
  PROTOCOL_HEADER,
  PROTOCOL_VERSION,
  parseTaskHeader,
  parseMessage,
  type DatasetDescriptor,
  type ResultHeader,
  type AnyTaskHeader,
} from '../protocol/messages.js';
import type { Parameters } from '../protocol/tensors.js';
import { coordinatorRequest, unreachableError, type CoordinatorAnswer, type CoordinatorRequest, type RequestBody } from './coordinator-fetch.js';

/** What the coordinator calls this member; its key is the client's identity. */
export interface Credentials {
  memberId: string;
}

export interface CoordinatorClientOptions {
  /** The member's signing identity. Default: a fresh in-memory one (tests, benchmarks). */
  identity?: Identity;
  /** Known from an earlier enrollment; null to enroll first. */
  credentials?: Credentials | null;
  /** The operator's single-use invitation code, sent with the first enrollment. */
  invitation?: string;
  /** PEM of the coordinator's CA or self-signed certificate; HTTPS then trusts only it. */
  ca?: string | Buffer;
}

export interface ReceivedTask {
  header: AnyTaskHeader;
  /** The global model; absent only for secure-aggregation stages that carry none. */
  parameters: Parameters | null;
  bytes: number;
}

const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));

export class CoordinatorClient {
  /** The coordinator replicas to reach, in order of preference; one for a single coordinator. */
  readonly urls: readonly string[];
  private current = 0;
  readonly identity: Identity;
  credentials: Credentials | null;
  invitation: string | undefined;
  private readonly send: CoordinatorRequest;

  /** `url` may list several replicas, comma-separated: the client moves to the next one when the one it uses cannot serve it. */
  constructor(url: string, options: CoordinatorClientOptions = {}) {
    this.urls = url.split(',').map((u) => u.trim().replace(/\/+$/, '')).filter((u) => u !== '');
    this.identity = options.identity ?? generateIdentity();
    this.credentials = options.credentials ?? null;
    this.invitation = options.invitation;
    this.send = coordinatorRequest(options.ca);
  }

  /** The coordinator this client talks to now. */
  get url(): string {
    return this.urls[this.current] ?? '';
  }

  /** Moves to the next replica (after one could not be reached or could not serve); false with only one. */
  failover(): boolean {
    if (this.urls.length < 2) return false;
    this.current = (this.current + 1) % this.urls.length;
    return true;
  }

  /**
   * Enrolls `name` with this client's public key, signed under the name. A name already
   * enrolled with this key is re-enrolled (descriptor updated, id kept).
   */
  async enroll(name: string, dataset: DatasetDescriptor): Promise<Credentials> {
    const body = { protocolVersion: PROTOCOL_VERSION, name, dataset, publicKey: this.identity.publicKey, ...(this.invitation ? { invitation: this.invitation } : {}) };
    const response = await this.request('POST', '/v1/members/enroll', { body: JSON.stringify(body), contentType: 'application/json', signAs: name });
    const parsed = parseMessage(EnrollResponseSchema, await this.read(() => response.json()), 'enroll response');
    this.credentials = { memberId: parsed.memberId };
    return this.credentials;
  }

  /** Waits up to waitMs for a task; null when none came. */
  async nextTask(waitMs: number, signal?: AbortSignal): Promise<ReceivedTask | null> {
    const response = await this.request('GET', `/v1/tasks/next?waitMs=${Math.round(waitMs)}`, { signAs: this.memberId(), ...(signal ? { signal } : {}) });
    if (response.status === 204) return null;
    const bytes = new Uint8Array(await this.read(() => response.arrayBuffer(), signal));
    const frame = decodeFrame(bytes);
    const header = parseTaskHeader(frame.header);
    if (!frame.parameters && header.kind !== 'secagg' && header.kind !== 'analytics') throw new ConcordError(ErrorCode.INVALID_MESSAGE, 'task carries no parameters', { details: { field: 'tensors' } });
    return { header, parameters: frame.parameters ?? null, bytes: bytes.byteLength };
  }

  async heartbeat(): Promise<void> {
    await this.request('POST', '/v1/members/heartbeat', { signAs: this.memberId(), body: '{}', contentType: 'application/json' });
  }

  async submitResult(header: Omit<ResultHeader, 'protocolVersion'>, parameters?: Parameters): Promise<number> {
    // The header, then the parameters' own bytes: the frame encodeFrame would build, without copying the model into it.
    const body = parameters ? [encodeFramePrefix({ protocolVersion: PROTOCOL_VERSION, ...header }, parameters.specs), payloadBytes(parameters)] : [encodeFrame({ protocolVersion: PROTOCOL_VERSION, ...header })];
    await this.request('POST', `/v1/tasks/${encodeURIComponent(header.taskId)}/result`, { signAs: this.memberId(), body, contentType: FRAME_CONTENT_TYPE });
    return body.reduce((n, p) => n + p.byteLength, 0);
  }

  /** Declares this member's compute resources (capacity, efficiency, cost, …) for planning. */
  async declareResources(declaration: Record<string, unknown>): Promise<Record<string, unknown>> {
    const response = await this.request('POST', '/v1/members/resources', { signAs: this.memberId(), body: JSON.stringify(declaration), contentType: 'application/json' });
    return (await response.json()) as Record<string, unknown>;
  }

  async decline(taskId: string, reason: string): Promise<void> {
    await this.request('POST', `/v1/tasks/${encodeURIComponent(taskId)}/decline`, { signAs: this.memberId(), body: JSON.stringify({ reason }), contentType: 'application/json' });
  }

  /** Reads a response body; a connection lost mid-body is unreachable, like one lost before the answer. */
  private async read<T>(body: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    try {
      return await body();
    } catch (cause) {
      if (signal?.aborted || cause instanceof SyntaxError) throw cause;
      throw unreachableError(this.url, cause, 'coordinator');
    }
  }

  private memberId(): string {
    if (!this.credentials) throw new ConcordError(ErrorCode.UNAUTHENTICATED, 'not enrolled yet', { details: { field: 'credentials' } });
    return this.credentials.memberId;
  }

  /** Sends a request signed as `signAs` (a member id, or the name being enrolled). */
  private async request(
    method: string,
    path: string,
    options: { body?: string | RequestBody; contentType?: string; signAs: string; signal?: AbortSignal },
  ): Promise<CoordinatorAnswer> {
    const headers: Record<string, string> = { [PROTOCOL_HEADER]: String(PROTOCOL_VERSION) };
    if (options.contentType) headers['content-type'] = options.contentType;
    // The signature covers the exact bytes sent, so a string body is encoded once, here.
    const body = typeof options.body === 'string' ? Buffer.from(options.body, 'utf8') : options.body;
    const target = new URL(this.url + path);
    Object.assign(headers, signRequest(this.identity, { method, path: target.pathname + target.search, ...(body !== undefined ? { body } : {}), memberId: options.signAs }));
    let response: CoordinatorAnswer;
    try {
      response = await this.send(target, { method, headers, ...(body !== undefined ? { body } : {}), ...(options.signal ? { signal: options.signal } : {}) });
    } catch (cause) {
      if (options.signal?.aborted) throw cause;
      throw unreachableError(this.url, cause, 'coordinator');
    }
    if (response.ok) return response;
    let error: { code?: string; message?: string; details?: Record<string, unknown> } = {};
    try {
      error = ((await response.json()) as { error?: typeof error }).error ?? {};
    } catch {
      // not our error body; fall through with the status
    }
    const code = (error.code && KNOWN_CODES.has(error.code) ? error.code : ErrorCode.INTERNAL) as Code;
    throw new ConcordError(code, error.message ?? `coordinator answered HTTP ${response.status}`, { details: { status: response.status, ...(error.details ?? {}) } });
  }
}
