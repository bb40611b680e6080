// The one place a run is built from its configuration: compileRun checks everything that can
// be checked before any member is asked to work, and returns either what the round loop
// needs (the strategy, wrapped by the run's protections, and the round stages of the stored
// run) or every problem at once. The coordinator, the demo (through the coordinator's API)
// and the tests all start runs through it.
//
// Protections and stages are extensions (RunExtension): secure aggregation, differential
// privacy, update validation, a resource plan. A coordinator is composed with a list of
// them. It fails closed: a configuration that asks for something (REQUESTS below) that no
// extension of this coordinator honours is refused, never run without it.

import { ConcordError, ErrorCode, isConcordError } from '../protocol/errors.js';
import { RunConfigSchema, type RunConfig } from '../protocol/messages.js';
import { type PathSegment, type Problem, check, formatPath, problemsError } from '../protocol/problems.js';
import { type Parameters, totalSize } from '../protocol/tensors.js';
import { familyOf, type ModelFamily } from '../model/families/index.js';
import { asyncScheduleOf, createStrategy } from '../strategies/index.js';
import type { Strategy } from '../strategies/strategy.js';
import type { MemberRecord, RunRecord, Storage } from '../storage/storage.js';
import { composeExtensions } from './extensions.js';
import type { Grid } from './grid.js';
import type { RoundExtensions } from './round-loop.js';
import { type AsyncExtensions, composeAsyncExtensions } from './async-loop.js';
import type { AsyncSchedule } from '../strategies/fedbuff.js';

/** Configuration fields that ask for a protection or a stage, and whether a run asks for it. */
export const REQUESTS = {
  secureAggregation: (config: RunConfig) => config.secureAggregation,
  differentialPrivacy: (config: RunConfig) => config.differentialPrivacy !== undefined,
  updateValidation: (config: RunConfig) => config.updateValidation !== undefined,
  plan: (config: RunConfig) => config.plan !== undefined,
  harmonise: (config: RunConfig) => config.harmonise !== undefined,
  hierarchicalAggregation: (config: RunConfig) => config.hierarchicalAggregation !== undefined,
} as const;
export type RequestField = keyof typeof REQUESTS;

const DESCRIPTIONS: Record<RequestField, string> = {
  secureAggregation: 'secure aggregation',
  differentialPrivacy: 'differential privacy',
  updateValidation: 'update validation',
  plan: 'resource plans',
  harmonise: 'harmonised preprocessing',
  hierarchicalAggregation: 'hierarchical aggregation (start it with --nats)',
};

export interface ExtensionContext {
  storage: Storage;
  /** Unrevoked members enrolled now. */
  members: readonly MemberRecord[];
}

export interface RunExtension {
  /** The configuration field it honours; it takes part only in runs that set it. */
  readonly field: RequestField;
  /** Wraps the run's strategy (extensions wrap in list order, the first innermost). */
  wrap?(config: RunConfig, strategy: Strategy): Strategy;
  /**
   * Problems of the configuration for this extension, given the registry's strategy and the
   * wrapped one. May normalize `config` (e.g. fill in declared resources); the stored run
   * keeps what it was checked with.
   */
  check?(config: RunConfig, strategies: { base: Strategy; wrapped: Strategy }, context: ExtensionContext): Problem[] | Promise<Problem[]>;
  /** Its stages in every round of the stored run. */
  stages?(run: RunRecord, strategy: Strategy, grid: Grid, storage: Storage): RoundExtensions;
  /** Its part in an asynchronous run (FedBuff); a run asking for an extension without one is refused. */
  async?: {
    check?(config: RunConfig, schedule: AsyncSchedule): Problem[];
    stages(run: RunRecord, schedule: AsyncSchedule, storage: Storage, grid: Grid): AsyncExtensions;
  };
}

export interface RunContext {
  storage: Storage;
  /** The extensions this coordinator was composed with. */
  extensions: readonly RunExtension[];
  /** Largest request body the coordinator accepts: every member's upload must fit. */
  bodyLimitBytes: number;
  /** Builds the model's initial parameters (a model that cannot be built is a problem). Omitted for a run that is resumed. */
  initialParameters?: (config: RunConfig) => Promise<Parameters>;
  /** The model's parameter count, without building it. Default: its family's count. */
  parameterCount?: (config: RunConfig) => number;
  /** The registry's strategy for the configuration; tests and benchmarks may replace it. */
  strategyFor?: (config: RunConfig) => Strategy;
}

export interface CompiledRun {
  ok: true;
  /** The configuration as checked (defaults applied, declared resources filled in). */
  config: RunConfig;
  strategy: Strategy;
  /** Round 0's model, when the context could build it. */
  initial: Parameters | null;
  /** The round stages of the stored run over `grid`. */
  stagesFor(run: RunRecord, grid: Grid): RoundExtensions;
  /** An asynchronous run's protections (none for a synchronous one). */
  asyncStagesFor(run: RunRecord, grid: Grid): AsyncExtensions;
}

export type CompileResult = CompiledRun | { ok: false; problems: Problem[] };

/** Models beyond this many parameters are refused before anything is allocated (1 GiB of float32). */
export const MAX_MODEL_PARAMETERS = 2 ** 28;
/** Room for a result frame's header and manifest next to its tensors. */
const FRAME_OVERHEAD_BYTES = 16 * 1024;

export async function compileRun(input: unknown, context: RunContext): Promise<CompileResult> {
  const parsed = check(RunConfigSchema, input);
  if (!parsed.ok) return { ok: false, problems: parsed.problems };
  const config = parsed.value;
  const problems: Problem[] = [];
  const members = (await context.storage.listMembers()).filter((m) => !m.revoked);

  // Every protection the run asks for needs an extension that honours it.
  const active = context.extensions.filter((e) => REQUESTS[e.field](config));
  for (const field of Object.keys(REQUESTS) as RequestField[]) {
    if (REQUESTS[field](config) && !active.some((e) => e.field === field)) {
      problems.push({ path: field, message: `this coordinator was composed without ${DESCRIPTIONS[field]}, so it cannot honour it; the run is refused rather than run without it` });
    }
  }

  problems.push(...modelProblems(config, members, context));

  const strategyFor = context.strategyFor ?? ((c: RunConfig) => createStrategy(c.strategy));
  let base: Strategy | undefined;
  problems.push(...collect(() => void (base = strategyFor(config)), ['strategy']));
  let strategy = base;
  // With bad options, the strategy's defaults still say what it needs (traits do not depend
  // on options), so the other checks can report their problems in the same answer.
  if (!base) {
    try {
      base = strategyFor({ ...config, strategy: { ...config.strategy, options: {} } });
    } catch {
      // no stand-in: the strategy's own problems are all there is to say about it
    }
  }
  // The asynchronous loop runs only the extensions that have an asynchronous part; the others are refused rather than dropped.
  const schedule = base ? asyncScheduleOf(base) : null;
  if (base && schedule) {
    for (const e of active) {
      if (!e.async) problems.push({ path: e.field, message: `asynchronous rounds (${base.name}) do not combine with ${DESCRIPTIONS[e.field]} yet; use a synchronous strategy for it` });
      else problems.push(...(e.async.check?.(config, schedule) ?? []));
    }
  }
  if (strategy && !schedule) {
    for (const e of active) {
      if (!e.wrap) continue;
      const before: Strategy = strategy;
      problems.push(...collect(() => void (strategy = e.wrap!(config, before)), [e.field]));
    }
  }
  // An asynchronous run's extensions were checked above, against its schedule.
  if (base && !schedule) {
    for (const e of active) {
      if (!e.check) continue;
      try {
        problems.push(...(await e.check(config, { base, wrapped: strategy ?? base }, { storage: context.storage, members })));
      } catch (error) {
        problems.push(...problemsOfError(error, [e.field]));
      }
    }
  }

  let initial: Parameters | null = null;
  if (problems.length === 0 && context.initialParameters) {
    try {
      initial = await context.initialParameters(config);
    } catch (error) {
      problems.push(...problemsOfError(error, ['model'], 'the model cannot be built: '));
    }
  }
  if (problems.length > 0 || !strategy) return { ok: false, problems };
  const wrapped: Strategy = strategy;
  return {
    ok: true,
    config,
    strategy: wrapped,
    initial,
    stagesFor: (run, grid) => composeExtensions(...active.map((e) => e.stages?.(run, wrapped, grid, context.storage))),
    asyncStagesFor: (run, grid) => composeAsyncExtensions(schedule ? active.map((e) => e.async!.stages(run, schedule, context.storage, grid)) : []),
  };
}

/** compileRun, throwing one INVALID_ARGUMENT that lists every problem. */
export async function buildRun(input: unknown, context: RunContext): Promise<CompiledRun> {
  const result = await compileRun(input, context);
  if (!result.ok) throw problemsError('run config', result.problems);
  return result;
}

/** Size, request-body fit, and fit to the data members enrolled with. */
function modelProblems(config: RunConfig, members: readonly MemberRecord[], context: RunContext): Problem[] {
  const model = config.model;
  let family: ModelFamily;
  try {
    family = familyOf(model);
  } catch (error) {
    return problemsOfError(error, ['model', 'family']);
  }
  const problems: Problem[] = [...(family.check?.(model) ?? [])];
  if (problems.length > 0) return problems;
  const dpSgd = family.support(model).dpSgd;
  if (config.differentialPrivacy?.level === 'sample' && dpSgd !== true) {
    problems.push({ path: 'differentialPrivacy.level', message: `the ${model.family} model cannot train with DP-SGD: ${dpSgd.reason}; use client-level DP or change the model` });
  }
  let count: number;
  try {
    count = context.parameterCount ? context.parameterCount(config) : family.parameterCount(model);
  } catch (error) {
    return problemsOfError(error, ['model'], 'the model cannot be built: ');
  }
  if (!Number.isSafeInteger(count) || count > MAX_MODEL_PARAMETERS) {
    problems.push({ path: 'model', message: `the model has ${count.toLocaleString('en-US')} parameters; at most ${MAX_MODEL_PARAMETERS.toLocaleString('en-US')} are supported` });
    return problems;
  }
  const updateBytes = 4 * (count + 1) + FRAME_OVERHEAD_BYTES;
  if (updateBytes > context.bodyLimitBytes) {
    problems.push({
      path: 'model',
      message: `the model has ${count.toLocaleString('en-US')} parameters, so each member's update is about ${mib(updateBytes)}, more than the ${mib(context.bodyLimitBytes)} this coordinator accepts in a request (--max-body-mb); use a smaller model or raise the limit`,
    });
  }
  const io = familyOf(model).io(model);
  const inputs = totalSize([{ name: 'input', shape: io.inputShape }]);
  const misfits = members.filter((m) => m.dataset.inputShape.length > 0 && totalSize([{ name: 'input', shape: m.dataset.inputShape }]) !== inputs);
  if (misfits.length > 0) {
    problems.push({
      path: 'model.inputShape',
      message: `[${io.inputShape.join(', ')}] takes ${inputs} values per example, but the data of ${misfits.map((m) => `${m.name} has ${totalSize([{ name: 'input', shape: m.dataset.inputShape }])} ([${m.dataset.inputShape.join(', ')}])`).join(', ')}`,
    });
  }
  if (io.input === 'ids') {
    const unfit = members.filter((m) => m.dataset.vocabulary === undefined || m.dataset.vocabulary > io.vocabulary!);
    if (unfit.length > 0) {
      problems.push({
        path: 'model.vocabSize',
        message: `the model reads token ids below ${io.vocabulary}, but ${unfit.map((m) => (m.dataset.vocabulary === undefined ? `${m.name}'s data are features, not token ids` : `${m.name}'s tokenizer gives ids up to ${m.dataset.vocabulary - 1}`)).join(', ')}`,
      });
    }
  } else {
    const ids = members.filter((m) => m.dataset.vocabulary !== undefined);
    if (ids.length > 0) problems.push({ path: 'model.family', message: `a ${model.family} model takes feature values, but the data of ${ids.map((m) => m.name).join(', ')} are token ids; use a text or transformer model` });
  }
  const tooMany = members.filter((m) => m.dataset.classes > io.classes);
  if (tooMany.length > 0) {
    problems.push({ path: 'model.classes', message: `${io.classes} classes, but ${tooMany.map((m) => `${m.name}'s data has ${m.dataset.classes}`).join(', ')}` });
  }
  return problems;
}

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(bytes < 10 * 2 ** 20 ? 1 : 0)} MiB`;

function collect(fn: () => void, path: PathSegment[]): Problem[] {
  try {
    fn();
    return [];
  } catch (error) {
    return problemsOfError(error, path);
  }
}

/** A refusal thrown by a part (its problems, or its one field and message) as problems. */
export function problemsOfError(error: unknown, fallback: PathSegment[], prefix = ''): Problem[] {
  if (!isConcordError(error) || (error.code !== ErrorCode.INVALID_ARGUMENT && error.code !== ErrorCode.INVALID_MESSAGE && error.code !== ErrorCode.SHAPE_MISMATCH)) {
    if (isConcordError(error) || !(error instanceof Error)) throw error;
    return [{ path: formatPath(fallback), message: `${prefix}${error.message}` }];
  }
  const listed = error.details.problems;
  if (Array.isArray(listed) && listed.length > 0) return listed as Problem[];
  const field = typeof error.details.field === 'string' && error.details.field !== '' ? error.details.field : formatPath(fallback);
  return [{ path: field, message: `${prefix}${error.message}` }];
}

/** Throws CONCORD_ERR_INVALID_ARGUMENT naming `field` (for extension checks that find one problem). */
export function refuse(field: string, message: string): never {
  throw new ConcordError(ErrorCode.INVALID_ARGUMENT, message, { details: { field } });
}
