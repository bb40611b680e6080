// The member's side of the wire protocol (docs/protocol.md): enroll, long-poll for tasks,
// send heartbeats and results. Errors from the coordinator come back as ConcordErrors
// with the coordinator's code; a coordinator that cannot be reached is UNAVAILABLE.

import { ConcordError, ErrorCode, type ErrorCode as Code } from '../protocol/errors.js';
import { FRAME_CONTENT_TYPE, decodeFrame, encodeFrame } from '../protocol/frame.js';
import {
  EnrollResponseSchema,
  PROTOCOL_HEADER,
  PROTOCOL_VERSION,
  TaskHeaderSchema,
  parseMessage,
  type DatasetDescriptor,
  type ResultHeader,
  type TaskHeader,
} from '../protocol/messages.js';
import type { Parameters } from '../protocol/tensors.js';

export interface Credentials {
  memberId: string;
  token: string;
}

export interface ReceivedTask {
  header: TaskHeader;
  /** The global model; absent only for secure-aggregation stages that carry none. */
  parameters: Parameters | null;
  bytes: number;
}

const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));

export class CoordinatorClient {
  readonly url: string;
  credentials: Credentials | null;

  constructor(url: string, credentials: Credentials | null = null) {
    this.url = url.replace(/\/+$/, '');
    this.credentials = credentials;
  }

  async enroll(name: string, dataset: DatasetDescriptor): Promise<Credentials> {
    const response = await this.request('POST', '/v1/members/enroll', {
      body: JSON.stringify({ protocolVersion: PROTOCOL_VERSION, name, dataset }),
      contentType: 'application/json',
      auth: this.credentials !== null,
    });
    const parsed = parseMessage(EnrollResponseSchema, await response.json(), 'enroll response');
    this.credentials = { memberId: parsed.memberId, token: parsed.token };
    return this.credentials;
  }

  /** Waits up to waitMs for a task; null when none came. */
  async nextTask(waitMs: number, signal?: AbortSignal): Promise<ReceivedTask | null> {
    const response = await this.request('GET', `/v1/tasks/next?waitMs=${Math.round(waitMs)}`, { auth: true, ...(signal ? { signal } : {}) });
    if (response.status === 204) return null;
    const bytes = new Uint8Array(await response.arrayBuffer());
    const frame = decodeFrame(bytes);
    const header = parseMessage(TaskHeaderSchema, frame.header, 'task header');
    if (!frame.parameters && header.kind !== 'secagg') throw new ConcordError(ErrorCode.INVALID_MESSAGE, 'task carries no parameters', { details: { field: 'tensors' } });
    return { header, parameters: frame.parameters ?? null, bytes: bytes.byteLength };
  }

  async heartbeat(): Promise<void> {
    await this.request('POST', '/v1/members/heartbeat', { auth: true, body: '{}', contentType: 'application/json' });
  }

  async submitResult(header: Omit<ResultHeader, 'protocolVersion'>, parameters?: Parameters): Promise<number> {
    const body = encodeFrame({ protocolVersion: PROTOCOL_VERSION, ...header }, parameters);
    await this.request('POST', `/v1/tasks/${encodeURIComponent(header.taskId)}/result`, { auth: true, body, contentType: FRAME_CONTENT_TYPE });
    return body.byteLength;
  }

  async decline(taskId: string, reason: string): Promise<void> {
    await this.request('POST', `/v1/tasks/${encodeURIComponent(taskId)}/decline`, { auth: true, body: JSON.stringify({ reason }), contentType: 'application/json' });
  }

  private async request(
    method: string,
    path: string,
    options: { body?: string | Uint8Array; contentType?: string; auth?: boolean; signal?: AbortSignal },
  ): Promise<Response> {
    const headers: Record<string, string> = { [PROTOCOL_HEADER]: String(PROTOCOL_VERSION) };
    if (options.contentType) headers['content-type'] = options.contentType;
    if (options.auth) {
      if (!this.credentials) throw new ConcordError(ErrorCode.UNAUTHENTICATED, 'not enrolled yet', { details: { field: 'credentials' } });
      headers.authorization = `Bearer ${this.credentials.token}`;
    }
    let response: Response;
    try {
      response = await fetch(this.url + path, { method, headers, ...(options.body !== undefined ? { body: options.body as BodyInit } : {}), ...(options.signal ? { signal: options.signal } : {}) });
    } catch (cause) {
      if (options.signal?.aborted) throw cause;
      throw new ConcordError(ErrorCode.UNAVAILABLE, `coordinator at ${this.url} is unreachable`, { details: { field: 'coordinator' }, cause });
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
