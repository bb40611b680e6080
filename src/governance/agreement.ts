// The cooperation agreement: the machine-readable contract a consortium runs under —
// who the members are and where, which purposes, algorithms and models are allowed, how
// many contributors an aggregate needs, privacy budgets, secure aggregation, data
// residency, and how plans are approved and the agreement itself amended. Concord
// enforces it: checkRun() refuses runs the agreement does not allow, and a new version
// takes effect only with the signatures the current version demands.
//
// Agreements are written in YAML (see docs/agreement.example.yaml). Every mistake is
// reported at once, each with its field path, what was expected and, for YAML input, the
// line and column.

import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { validateDocumentText, validateParsed } from '../protocol/document.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { type Problem, type RawProblem, formatProblems } from '../protocol/problems.js';
import { MODEL_FAMILY_NAMES, StrategySpecSchema, type ModelSpec, type RunConfig } from '../protocol/messages.js';
import { SigningDomain, canonicalBytes, signingBytes } from './canonical.js';
import { isCountryCode } from './countries.js';
import { sha256Hex } from './digest.js';
import { assertPublicKey, sign, verify, type Identity } from './identity.js';
import { QUERY_TYPES } from '../analytics/query-types.js';
import { DataSchemaSchema, dataSchemaCrossCheck } from '../data/schema/schema.js';
import { VALUATION_METHODS } from '../valuation/methods.js';
import { SHARING_BASES } from '../valuation/benefit-sharing.js';

// ---- schema ---------------------------------------------------------------------------

const finite = z.number().finite();
const NAME = /^[A-Za-z0-9._-]+$/;
/** Member names are the names members enroll under (protocol/messages.ts), so the two can be matched. */
const memberName = z.string().min(1).max(128).regex(NAME, 'expected letters, digits, ".", "_" or "-"');
const datasetId = z.string().min(1).max(128).regex(NAME, 'expected letters, digits, ".", "_" or "-"');

const publicKey = z.string().superRefine((value, ctx) => {
  try {
    assertPublicKey(value);
  } catch {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'expected a raw 32-byte Ed25519 public key in base64url (43 characters)' });
  }
});

const jurisdiction = z.string().refine(isCountryCode, (value) => ({
  message: `expected an ISO 3166-1 alpha-2 country code such as "DE" or "US", received ${JSON.stringify(value)}`,
}));

export const STRATEGY_NAMES = StrategySpecSchema.shape.name.options;
export type StrategyName = (typeof STRATEGY_NAMES)[number];
export const MODEL_FAMILIES = MODEL_FAMILY_NAMES as unknown as [ModelSpec['family'], ...ModelSpec['family'][]];
export type ModelFamily = ModelSpec['family'];

const BudgetSchema = z.object({ epsilon: finite.positive(), delta: finite.min(0).lt(1) }).strict();
export type PrivacyBudget = z.infer<typeof BudgetSchema>;

export const RESIDENCY = ['aggregates', 'model-updates'] as const;
export type Residency = (typeof RESIDENCY)[number];

const MemberSchema = z
  .object({
    name: memberName,
    jurisdiction,
    /** The data owner's key: it signs plan approvals and amendments for this member. */
    publicKey,
    datasets: z.array(z.object({ id: datasetId, description: z.string().min(1).max(2000) }).strict()).default([]),
  })
  .strict();

/** How contributions are valued (docs/sharing.md), fixed before training. */
const ValuationSchema = z
  .object({
    method: z.enum(VALUATION_METHODS).default('final-model'),
    /** Whether a request may ask for another method than the agreed one (e.g. to compare). */
    overridable: z.boolean().default(true),
    /** Bootstrap resamples of the validation set behind every interval. */
    bootstrap: z.number().int().min(0).max(10_000).default(200),
  })
  .strict();

/** How a reward pool is divided: by positive contribution, with an optional floor by data volume or participation. */
const BenefitSharingSchema = z
  .object({
    floor: z.object({ fraction: finite.min(0).max(1), basis: z.enum(SHARING_BASES) }).strict().optional(),
  })
  .strict();

/** Energy of data transmission, kWh per GB, with the range the literature supports and where it is from. */
const NetworkIntensitySchema = z
  .object({ kWhPerGB: finite.positive(), low: finite.positive(), high: finite.positive(), year: z.number().int().min(2000).max(2100), source: z.string().min(1).max(500) })
  .strict()
  .refine((n) => n.low <= n.kWhPerGB && n.kWhPerGB <= n.high, { message: 'expected low <= kWhPerGB <= high' });

const FootprintSchema = z
  .object({
    network: NetworkIntensitySchema.optional(),
    /** gCO₂e/kWh of the electricity networks run on (the path between sites crosses grids). */
    networkCarbonIntensity: finite.positive().optional(),
  })
  .strict();

export const AgreementSchema = z
  .object({
    version: z.number().int().min(1),
    consortium: z.string().min(1).max(200),
    members: z.array(MemberSchema).min(1),
    purposes: z.array(z.string().min(1).max(500)).min(1),
    allowedStrategies: z.array(StrategySpecSchema.shape.name).min(1),
    allowedModelFamilies: z.array(z.enum(MODEL_FAMILIES)).min(1),
    minContributors: z.number().int().min(1),
    secureAggregation: z.enum(['required', 'optional']),
    differentialPrivacy: z.object({ required: z.boolean(), budgets: z.record(datasetId, BudgetSchema).default({}) }).strict(),
    /** Per member: what may leave its site — only secure aggregates, or individual model updates. */
    residency: z.record(memberName, z.enum(RESIDENCY)),
    approvals: z
      .object({
        plansNeed: z.union([z.literal('all-data-owners'), z.number().int().min(1)], {
          errorMap: () => ({ message: 'expected "all-data-owners" or a positive integer' }),
        }),
      })
      .strict(),
    /** The consortium data schema (data/schema/, docs/schema.md): members validate their data against it. */
    dataSchema: DataSchemaSchema.optional(),
    /** Federated analytics (src/analytics): which query types may run, whether DP is required, the smallest released cell. */
    analytics: z
      .object({
        forbiddenQueries: z.array(z.enum(QUERY_TYPES)).default([]),
        requireDifferentialPrivacy: z.boolean().default(false),
        /** Exact cells counting fewer records are suppressed. */
        minCount: z.number().int().min(1).default(10),
        /** Whose signed approval a query needs before it reads members' data: 'none', 'all-data-owners' or a number; default approvals.plansNeed. */
        queriesNeed: z.union([z.literal('none'), z.literal('all-data-owners'), z.number().int().min(1)], { errorMap: () => ({ message: 'expected "none", "all-data-owners" or a number of owners' }) }).optional(),
      })
      .strict()
      .optional(),
    valuation: ValuationSchema.optional(),
    benefitSharing: BenefitSharingSchema.optional(),
    footprint: FootprintSchema.optional(),
    amendments: z
      .object({
        signaturesRequired: z.union([z.literal('all'), z.array(memberName).min(1)], {
          errorMap: () => ({ message: 'expected "all" or a list of member names' }),
        }),
      })
      .strict(),
  })
  .strict();

export type Agreement = z.infer<typeof AgreementSchema>;
export type AgreementMember = Agreement['members'][number];

// ---- parsing and validation -----------------------------------------------------------

/** A problem of an agreement: its field path, what is wrong and, for YAML input, where. */
export type AgreementIssue = Problem;

/** Parses and validates YAML text. `source` names the file in error messages (default "agreement"). */
export function parseAgreement(text: string, options: { source?: string } = {}): Agreement {
  const source = options.source ?? 'agreement';
  try {
    return validateDocumentText(AgreementSchema, text, { source, format: 'yaml', extra: crossCheck });
  } catch (error) {
    throw asAgreementError(source, error);
  }
}

/** Validates an agreement that is already a JavaScript value (e.g. JSON from the API). */
export function validateAgreement(value: unknown, options: { source?: string } = {}): Agreement {
  const source = options.source ?? 'agreement';
  try {
    return validateParsed(AgreementSchema, { value, locate: () => undefined }, source, crossCheck);
  } catch (error) {
    throw asAgreementError(source, error);
  }
}

export async function loadAgreement(path: string): Promise<Agreement> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConcordError(ErrorCode.NOT_FOUND, `cannot read agreement ${path}: ${(error as Error).message}`, { details: { field: 'path', received: path }, cause: error });
  }
  return parseAgreement(text, { source: path });
}

/** Every problem, each on its own line, under one heading that says what the document should have been. */
function asAgreementError(source: string, error: unknown): unknown {
  if (!(error instanceof ConcordError) || !Array.isArray(error.details.problems)) return error;
  const issues = error.details.problems as Problem[];
  const count = issues.length === 1 ? '1 problem' : `${issues.length} problems`;
  return new ConcordError(ErrorCode.INVALID_ARGUMENT, `${source} is not a valid cooperation agreement (${count}):\n${formatProblems(issues)}`, {
    details: { field: issues[0]?.path, problems: issues, issues },
  });
}

/** Rules that relate one part of the agreement to another; run on the raw value so they report alongside schema issues. */
function crossCheck(raw: unknown): RawProblem[] {
  const issues: RawProblem[] = [];
  if (!isRecord(raw)) return issues;
  const members = Array.isArray(raw.members) ? raw.members : [];
  const names = new Map<string, number>();
  const keys = new Map<string, number>();
  const datasets = new Map<string, string>();
  members.forEach((member, i) => {
    if (!isRecord(member)) return;
    if (typeof member.name === 'string') {
      const other = names.get(member.name);
      if (other !== undefined) issues.push({ path: ['members', i, 'name'], message: `duplicate member name ${JSON.stringify(member.name)} (also members[${other}].name)` });
      else names.set(member.name, i);
    }
    if (typeof member.publicKey === 'string') {
      const other = keys.get(member.publicKey);
      if (other !== undefined) issues.push({ path: ['members', i, 'publicKey'], message: `the same key as members[${other}]; every data owner needs a key of its own` });
      else keys.set(member.publicKey, i);
    }
    if (Array.isArray(member.datasets)) {
      member.datasets.forEach((dataset, j) => {
        if (!isRecord(dataset) || typeof dataset.id !== 'string') return;
        const owner = datasets.get(dataset.id);
        if (owner !== undefined) issues.push({ path: ['members', i, 'datasets', j, 'id'], message: `duplicate dataset id ${JSON.stringify(dataset.id)} (also declared by ${owner}); dataset ids are unique across the consortium` });
        else datasets.set(dataset.id, typeof member.name === 'string' ? member.name : `members[${i}]`);
      });
    }
  });
  const memberCount = names.size;
  const knownNames = [...names.keys()];
  if (isRecord(raw.dataSchema)) for (const p of dataSchemaCrossCheck(raw.dataSchema)) issues.push({ ...p, path: ['dataSchema', ...p.path] });

  if (typeof raw.minContributors === 'number' && memberCount > 0 && raw.minContributors > memberCount) {
    issues.push({ path: ['minContributors'], message: `requires ${raw.minContributors} contributors per aggregate, but the agreement names only ${memberCount} member${memberCount === 1 ? '' : 's'}` });
  }

  const dp = raw.differentialPrivacy;
  if (isRecord(dp)) {
    const budgets = isRecord(dp.budgets) ? dp.budgets : {};
    for (const id of Object.keys(budgets)) {
      if (!datasets.has(id)) issues.push({ path: ['differentialPrivacy', 'budgets', id], message: `budget for unknown dataset ${JSON.stringify(id)}; declared datasets: ${list([...datasets.keys()])}`, atKey: true });
    }
    if (dp.required === true) {
      const unbudgeted = [...datasets.keys()].filter((id) => !(id in budgets));
      if (unbudgeted.length > 0) {
        issues.push({ path: ['differentialPrivacy', 'budgets'], message: `differential privacy is required, so every dataset needs a budget; missing: ${list(unbudgeted)}` });
      }
    }
  }

  if (isRecord(raw.residency)) {
    for (const name of Object.keys(raw.residency)) {
      if (!names.has(name)) issues.push({ path: ['residency', name], message: `residency rule for unknown member ${JSON.stringify(name)}; members: ${list(knownNames)}`, atKey: true });
    }
    const missing = knownNames.filter((name) => !(name in (raw.residency as Record<string, unknown>)));
    if (missing.length > 0) issues.push({ path: ['residency'], message: `every member needs a residency rule ("aggregates" or "model-updates"); missing: ${list(missing)}` });
  }

  if (isRecord(raw.approvals) && typeof raw.approvals.plansNeed === 'number' && memberCount > 0 && raw.approvals.plansNeed > memberCount) {
    issues.push({ path: ['approvals', 'plansNeed'], message: `needs ${raw.approvals.plansNeed} approvals, but the agreement names only ${memberCount} member${memberCount === 1 ? '' : 's'}` });
  }

  if (isRecord(raw.amendments) && Array.isArray(raw.amendments.signaturesRequired)) {
    const seen = new Set<string>();
    raw.amendments.signaturesRequired.forEach((name, i) => {
      if (typeof name !== 'string') return;
      if (!names.has(name)) issues.push({ path: ['amendments', 'signaturesRequired', i], message: `unknown member ${JSON.stringify(name)}; members: ${list(knownNames)}` });
      if (seen.has(name)) issues.push({ path: ['amendments', 'signaturesRequired', i], message: `${JSON.stringify(name)} is listed twice` });
      seen.add(name);
    });
  }
  return issues;
}

function list(items: string[]): string {
  return items.length === 0 ? '(none)' : items.join(', ');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ---- lookups --------------------------------------------------------------------------

export function findMember(agreement: Agreement, name: string): AgreementMember | undefined {
  return agreement.members.find((m) => m.name === name);
}

/** Dataset id → name of the member that owns it. */
export function datasetOwners(agreement: Agreement): Map<string, string> {
  return new Map(agreement.members.flatMap((m) => m.datasets.map((d) => [d.id, m.name] as const)));
}

// ---- checking a run against the agreement ---------------------------------------------

export interface RunRequest {
  purpose: string;
  config: RunConfig;
  /** Names of the members whose updates the run would aggregate. */
  participants: string[];
  secureAggregation?: boolean;
  /** The run's own (ε, δ) per dataset it touches; absent or null for a run without DP. */
  differentialPrivacy?: { epsilon: number; delta: number } | null;
  /** Dataset ids the run uses. Default: every dataset of every participant. */
  datasets?: string[];
  /** Whether the run was started from a training plan; false refuses it, since every agreement makes plans need approvals. */
  fromPlan?: boolean;
}

export interface Violation {
  /** The agreement clause that forbids the run, e.g. `minContributors` or `differentialPrivacy.budgets.ward-a`. */
  clause: string;
  /** Starts with the clause: `minContributors: the run would aggregate 2 members, …`. */
  message: string;
}

export interface CheckRunOptions {
  /**
   * What is left of each dataset's budget, from the privacy ledger (which composes spends
   * exactly, with the RDP accountant). Default: the whole budget in the agreement.
   */
  budgetRemaining?: Record<string, PrivacyBudget>;
}

/** Every clause of the agreement the run would break; empty when the run is allowed. */
export function checkRun(agreement: Agreement, request: RunRequest, options: CheckRunOptions = {}): Violation[] {
  const violations: Violation[] = [];
  const add = (clause: string, text: string) => violations.push({ clause, message: `${clause}: ${text}` });

  if (request.fromPlan === false) {
    const rule = agreement.approvals.plansNeed;
    add('approvals.plansNeed', `runs need a training plan approved by ${rule === 'all-data-owners' ? "the owners of every dataset it uses" : `${rule} data owner${rule === 1 ? '' : 's'}`}; submit one with "concord plans submit" and start it with "concord plans start" once approved`);
  }
  if (!agreement.purposes.includes(request.purpose)) {
    add('purposes', `purpose ${JSON.stringify(request.purpose)} is not allowed; allowed purposes: ${agreement.purposes.map((p) => JSON.stringify(p)).join(', ')}`);
  }
  const strategy = request.config.strategy.name;
  if (!(agreement.allowedStrategies as string[]).includes(strategy)) {
    add('allowedStrategies', `strategy ${strategy} is not allowed; allowed: ${agreement.allowedStrategies.join(', ')}`);
  }
  const family = request.config.model.family;
  if (!(agreement.allowedModelFamilies as string[]).includes(family)) {
    add('allowedModelFamilies', `model family ${family} is not allowed; allowed: ${agreement.allowedModelFamilies.join(', ')}`);
  }

  const participants = [...new Set(request.participants)];
  const unknown = participants.filter((name) => !findMember(agreement, name));
  if (unknown.length > 0) add('members', `${list(unknown)} ${unknown.length === 1 ? 'is not a member' : 'are not members'} of ${agreement.consortium}`);

  const min = agreement.minContributors;
  if (participants.length < min) {
    add('minContributors', `the run would aggregate ${participants.length} member${participants.length === 1 ? '' : 's'}, the agreement requires at least ${min}`);
  }
  if (request.config.minTrainMembers < min) {
    add('minContributors', `config.minTrainMembers is ${request.config.minTrainMembers}, so a round could aggregate only ${request.config.minTrainMembers} member${request.config.minTrainMembers === 1 ? '' : 's'}; the agreement requires at least ${min}`);
  }

  const secure = request.secureAggregation === true;
  if (agreement.secureAggregation === 'required' && !secure) {
    add('secureAggregation', 'the agreement requires secure aggregation, the run does not use it');
  }
  if (!secure) {
    for (const name of participants) {
      if (agreement.residency[name] === 'aggregates') add('residency', `only aggregates may leave ${name}, so a run that includes it must use secure aggregation`);
    }
  }

  const owners = datasetOwners(agreement);
  const datasets = request.datasets ?? [...owners].filter(([, owner]) => participants.includes(owner)).map(([id]) => id);
  for (const id of datasets) {
    const owner = owners.get(id);
    if (owner === undefined) add('datasets', `dataset ${JSON.stringify(id)} is not declared in the agreement`);
    else if (!participants.includes(owner)) add('datasets', `dataset ${JSON.stringify(id)} belongs to ${owner}, which is not a participant`);
  }

  const dp = request.differentialPrivacy ?? null;
  if (agreement.differentialPrivacy.required && dp === null) {
    add('differentialPrivacy', 'the agreement requires differential privacy, the run has none');
  }
  if (dp !== null) {
    for (const id of datasets) {
      const budget = options.budgetRemaining?.[id] ?? agreement.differentialPrivacy.budgets[id];
      if (!budget) continue;
      const left = options.budgetRemaining?.[id] ? ' remaining' : '';
      if (dp.epsilon > budget.epsilon) add(`differentialPrivacy.budgets.${id}`, `the run would spend ε = ${dp.epsilon}, the dataset's${left} budget is ε = ${budget.epsilon}`);
      if (dp.delta > budget.delta) add(`differentialPrivacy.budgets.${id}`, `the run's δ = ${dp.delta} exceeds the dataset's${left} δ = ${budget.delta}`);
    }
  }
  return violations;
}

/** Throws FORBIDDEN listing every violation (also in `details.violations`) unless the run is allowed. */
export function assertRunAllowed(agreement: Agreement, request: RunRequest, options: CheckRunOptions = {}): void {
  const violations = checkRun(agreement, request, options);
  if (violations.length === 0) return;
  throw new ConcordError(
    ErrorCode.FORBIDDEN,
    `the cooperation agreement (version ${agreement.version}) does not allow this run:\n${violations.map((v) => `  ${v.message}`).join('\n')}`,
    { details: { field: violations[0]!.clause, violations } },
  );
}

// ---- versions and amendments ----------------------------------------------------------

/** SHA-256 (hex) of the agreement's canonical JSON: the name everyone signs and compares. */
export function agreementHash(agreement: Agreement): string {
  return sha256Hex(canonicalBytes(agreement));
}

/** The bytes a data owner signs to consent to this agreement version. */
export function agreementSigningBytes(agreement: Agreement): Uint8Array {
  return signingBytes(SigningDomain.AGREEMENT, agreement);
}

export interface AgreementSignature {
  member: string;
  signature: string;
}

export function signAgreement(agreement: Agreement, member: string, owner: Identity): AgreementSignature {
  return { member, signature: sign(owner.privateKey, agreementSigningBytes(agreement)) };
}

/**
 * Accepts `proposed` as the next agreement when its version is the current one plus 1 and
 * it carries valid signatures from every member the *current* agreement says must sign
 * (keys are taken from the current agreement too, so a proposal cannot vouch for itself).
 * Returns the validated proposal and who signed it.
 */
export function amendAgreement(current: Agreement, proposed: unknown, signatures: readonly AgreementSignature[]): { agreement: Agreement; hash: string; signers: string[] } {
  const next = validateAgreement(proposed, { source: 'proposed agreement' });
  if (next.version !== current.version + 1) {
    throw new ConcordError(ErrorCode.CONFLICT, `proposed agreement has version ${next.version}; the next version after ${current.version} must be ${current.version + 1}`, {
      details: { field: 'version', expected: current.version + 1, received: next.version },
    });
  }
  const bytes = agreementSigningBytes(next);
  const valid = new Set<string>();
  const invalid: string[] = [];
  const unknown: string[] = [];
  for (const { member, signature } of signatures) {
    const signer = findMember(current, member);
    if (!signer) unknown.push(member);
    else if (verify(signer.publicKey, bytes, signature)) valid.add(member);
    else invalid.push(member);
  }
  const rule = current.amendments.signaturesRequired;
  const required = rule === 'all' ? current.members.map((m) => m.name) : rule;
  const missing = required.filter((name) => !valid.has(name));
  if (missing.length > 0) {
    const notes = [
      invalid.length > 0 ? `signatures that do not verify with the enrolled key: ${invalid.join(', ')}` : '',
      unknown.length > 0 ? `signatures from non-members, ignored: ${unknown.join(', ')}` : '',
    ].filter(Boolean);
    throw new ConcordError(
      ErrorCode.FORBIDDEN,
      `amendment to version ${next.version} lacks valid signatures from: ${missing.join(', ')} (version ${current.version} requires ${rule === 'all' ? 'all members' : required.join(', ')})${notes.length > 0 ? `; ${notes.join('; ')}` : ''}`,
      { details: { field: 'signatures', expected: required, received: [...valid], missing, invalid, unknown } },
    );
  }
  return { agreement: next, hash: agreementHash(next), signers: [...valid].sort() };
}
