// The dashboard's view of the coordinator's operator API (docs/protocol.md): typed reads
// with the bearer token, and the live change stream. The token comes from the page's
// `?token=` (the demo prints such a link) or the sign-in box, and is kept in
// sessionStorage only, so it is gone when the tab closes.

export interface Dataset {
  name: string;
  numExamples: number;
  numHoldout?: number;
  classes?: number;
  inputShape?: number[];
}
export interface Member {
  memberId: string;
  name: string;
  dataset: Dataset;
  enrolledAt: number;
  lastSeenAt: number | null;
  revoked: boolean;
  online: boolean;
}
export interface RunConfigView {
  name?: string;
  rounds: number;
  model: { family: string; inputShape?: number[]; classes?: number; [k: string]: unknown };
  strategy: { name: string; options?: Record<string, unknown> };
  train?: { epochs?: number; batchSize?: number; learningRate?: number; optimizer?: string; proximalMu?: number };
  minAvailableMembers?: number;
  minTrainMembers?: number;
  secureAggregation?: boolean;
  differentialPrivacy?: { level?: string; mode?: string; noiseMultiplier?: number; clippingNorm?: number; budget?: { epsilon: number; delta: number } } | null;
  plan?: Record<string, unknown>;
}
export interface Run {
  runId: string;
  config: RunConfigView;
  status: 'pending' | 'running' | 'completed' | 'failed' | 'stopped';
  error: string | null;
  createdAt: number;
  updatedAt: number;
}
/** GET /v1/runs/:id/progress (src/coordinator/run-control-routes.ts). */
export interface RunProgress {
  runId: string;
  status: Run['status'];
  roundsDone: number;
  rounds: number;
  current: { round: number; stage: string; startedAt: number; members: { memberId: string; name: string; state: 'queued' | 'working' | 'reported' | 'failed'; reason?: string }[] } | null;
  etaSeconds: number | null;
  elapsedSeconds: number;
  baseline: { metric: string; value: number; description: string; epochs?: number; examples?: number; recordedBy: string; recordedAt: number } | null;
}
/** GET /v1/runs/:id/contributions; uncertainty and indistinguishable come with the valuation methods that estimate them. */
export interface Contributions {
  available: boolean;
  reason?: string;
  method?: string;
  values?: Record<string, number>;
  standardErrors?: Record<string, number> | null;
  uncertainty?: Record<string, { standardError: number; low: number; high: number }>;
  indistinguishable?: Array<[string, string]>;
  participation: { name: string; rounds: number; examples: number }[];
  utility: string;
}
export interface Co2 {
  co2Grams: number;
  co2GramsLow?: number;
  co2GramsHigh?: number;
}
/** GET /v1/runs/:id/footprint; the low/high range where the footprint states one. */
export interface Footprint {
  members: { name: string; energySource: string; trainKWh: number; networkBytes: number; co2Grams: number }[];
  total: { trainKWh: number; networkKWh: number; kWh: number; networkBytes: number } & Co2;
  centralized: { trainKWh: number; kWh: number } & Co2;
  assumptions: string[];
}
/** GET /v1/runs/:id/architecture: the model's family and layers, as members build it (src/model/summary.ts). */
export interface ModelSummary {
  family: string;
  parameters: number;
  trainable: number;
  layers: { name: string; type: string; outputShape: number[][]; parameters: number }[];
}
export interface Round {
  round: number;
  trainMetrics: Record<string, number>;
  evalLoss: number | null;
  evalMetrics: Record<string, number>;
  serverEval: { loss: number; metrics: Record<string, number> } | null;
  participants: string[];
  failures: { memberId: string; reason: string }[];
  attempts: number;
  startedAt: number;
  completedAt: number;
}
export interface MemberMetric {
  round: number;
  memberId: string;
  phase: 'train' | 'evaluate';
  numExamples: number;
  loss: number | null;
  metrics: Record<string, number>;
  bytesIn: number;
  bytesOut: number;
  seconds: number;
}
export interface PrivacyDataset {
  datasetId: string;
  epsilon: number;
  delta: number;
  budget: number | null;
  charges: number;
}
export interface AuditEntry {
  seq: number;
  at: number;
  actor: string;
  kind: string;
  subject: string;
  data: unknown;
}
export interface ChainVerification {
  ok: boolean;
  verified?: number;
  firstBad?: number;
  reason?: string;
}

const KEY = 'concord.token';

/** Takes `?token=` off the address (so it is not bookmarked or shared) into sessionStorage. */
export function initialToken(): string | null {
  const url = new URL(window.location.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl) {
    sessionStorage.setItem(KEY, fromUrl);
    url.searchParams.delete('token');
    window.history.replaceState(null, '', url.pathname + url.search + url.hash);
  }
  return sessionStorage.getItem(KEY);
}

export function saveToken(token: string | null): void {
  if (token) sessionStorage.setItem(KEY, token);
  else sessionStorage.removeItem(KEY);
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function get<T>(token: string, path: string): Promise<T> {
  const response = await fetch(path, { headers: { authorization: `Bearer ${token}` } });
  const body = (await response.json().catch(() => null)) as { error?: { message?: string } } | null;
  if (!response.ok) throw new ApiError(response.status, body?.error?.message ?? `${response.status} ${response.statusText}`);
  return body as T;
}

export type LiveKind = 'runs' | 'round' | 'members' | 'audit';

/** Opens the change stream; `onChange` hears each kind of change, `onState` whether it is connected. */
export function openStream(token: string, onChange: (kind: LiveKind, data: unknown) => void, onState: (live: boolean) => void): () => void {
  const source = new EventSource(`/v1/events/stream?token=${encodeURIComponent(token)}`);
  for (const kind of ['runs', 'round', 'members', 'audit'] as const) {
    source.addEventListener(kind, (e) => onChange(kind, JSON.parse((e as MessageEvent<string>).data)));
  }
  source.onopen = () => onState(true);
  source.onerror = () => onState(false);
  // The coordinator ends the stream once the token is revoked or expires; reconnecting cannot help.
  source.addEventListener('closed', () => {
    source.close();
    onState(false);
  });
  return () => source.close();
}

/** POSTs JSON; plan approvals need no token (the owner's signature is the credential) but carry it anyway. */
export async function post<T>(token: string, path: string, body: unknown): Promise<T> {
  const response = await fetch(path, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const reply = (await response.json().catch(() => null)) as { error?: { message?: string } } | null;
  if (!response.ok) throw new ApiError(response.status, reply?.error?.message ?? `${response.status} ${response.statusText}`);
  return reply as T;
}

export interface AgreementMember {
  name: string;
  jurisdiction: string;
  publicKey: string;
  datasets: { id: string; description?: string }[];
}
export interface Agreement {
  version: number;
  consortium: string;
  members: AgreementMember[];
  purposes: string[];
  allowedStrategies: string[];
  allowedModelFamilies: string[];
  minContributors: number;
  secureAggregation: 'required' | 'optional';
  differentialPrivacy: { required: boolean; budgets: Record<string, { epsilon: number; delta: number }> };
  residency: Record<string, string>;
  approvals: { plansNeed: 'all-data-owners' | number };
  amendments: { signaturesRequired: 'all' | string[] };
}
export interface AgreementView {
  agreement: Agreement | null;
  hash: string | null;
  history: { version: number; hash: string; signers: string[]; adoptedAt: number; adoptedBy: string }[];
}
export interface PlanApproval {
  planHash: string;
  member: string;
  decision: 'approve' | 'reject';
  reason: string | null;
  at: number;
  signature: string;
}
export interface Plan {
  title: string;
  researcher: string;
  purpose: string;
  datasets: string[];
  config: Record<string, unknown> & { rounds?: number; strategy?: { name: string } };
  privacy: { secureAggregation: boolean; differentialPrivacy: { epsilon: number; delta: number } | null };
  createdAt: number;
}
export interface PlanView {
  planId: string;
  planHash: string;
  plan: Plan;
  submittedBy: string;
  submittedAt: number;
  runId?: string | null;
  approvals: PlanApproval[];
  status: {
    state: 'approved' | 'rejected' | 'pending';
    planHash: string;
    needed: number;
    approvedBy: string[];
    rejectedBy: { member: string; reason: string | null }[];
    waitingFor: string[];
    ignored: { member: string; reason: string }[];
  } | null;
}

/** GETs a file (the model, the HTML report) with the token and hands it over as a Blob. */
export async function getBlob(token: string, path: string): Promise<Blob> {
  const response = await fetch(path, { headers: { authorization: `Bearer ${token}` } });
  if (!response.ok) {
    const body = (await response.json().catch(() => null)) as { error?: { message?: string } } | null;
    throw new ApiError(response.status, body?.error?.message ?? `${response.status} ${response.statusText}`);
  }
  return response.blob();
}
