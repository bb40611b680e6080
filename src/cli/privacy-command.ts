// `concord privacy epsilon` (the (ε, δ) a DP training plan spends) and `concord privacy
// noise` (the least noise that keeps a plan within ε): the RDP accountant of
// privacy/rdp.ts from the command line, for writing agreements and planning runs.

import type { Command } from 'commander';
import { ConcordError, ErrorCode, isConcordError } from '../protocol/errors.js';
import { computeEpsilon, noiseForEpsilon } from '../privacy/rdp.js';
import { fail } from './options.js';

/** Accountant field → the flag a person typed, so errors name what they can fix. */
const FLAGS: Record<string, string> = {
  samplingRate: '--sampling-rate',
  noiseMultiplier: '--noise-multiplier',
  steps: '--steps',
  delta: '--delta',
  epsilon: '--epsilon',
};

interface RawOptions {
  samplingRate?: string;
  noiseMultiplier?: string;
  steps?: string;
  delta?: string;
  epsilon?: string;
  json?: boolean;
}

function required(opts: RawOptions, key: keyof typeof FLAGS & keyof RawOptions): string {
  const value = opts[key];
  if (typeof value !== 'string') {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${FLAGS[key]} is required`, { details: { field: FLAGS[key], expected: 'a value' } });
  }
  return value;
}

function number(opts: RawOptions, key: keyof typeof FLAGS & keyof RawOptions): number {
  const raw = required(opts, key);
  const n = raw.trim() === '' ? NaN : Number(raw);
  if (!Number.isFinite(n)) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${FLAGS[key]} must be a number, got ${JSON.stringify(raw)}`, { details: { field: FLAGS[key], expected: 'number', received: raw } });
  }
  return n;
}

function integer(opts: RawOptions, key: keyof typeof FLAGS & keyof RawOptions): number {
  const n = number(opts, key);
  if (!Number.isInteger(n)) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${FLAGS[key]} must be an integer, got ${opts[key]}`, { details: { field: FLAGS[key], expected: 'integer', received: opts[key] } });
  }
  return n;
}

/** Re-labels the accountant's field names (samplingRate, …) with the flags. */
function withFlagNames(error: unknown): unknown {
  if (!isConcordError(error)) return error;
  const flag = error.details.field ? FLAGS[error.details.field] : undefined;
  if (!flag) return error;
  const message = error.message.startsWith(`${error.details.field} `) ? flag + error.message.slice(error.details.field!.length) : error.message;
  return new ConcordError(error.code, message, { details: { ...error.details, field: flag }, cause: error });
}

export function registerPrivacyCommand(program: Command): void {
  const privacy = program.command('privacy').description('differential-privacy accounting: the (ε, δ) a plan spends, or the noise a budget needs');

  privacy
    .command('epsilon')
    .description('ε spent by T steps of the subsampled Gaussian mechanism (RDP accountant, Opacus conventions)')
    .option('--sampling-rate <q>', 'probability that a member (or record) takes part in a step, in [0, 1]')
    .option('--noise-multiplier <z>', 'noise standard deviation over the clipping norm, ≥ 0')
    .option('--steps <T>', 'number of steps (rounds), a positive integer')
    .option('--delta <δ>', 'δ, in (0, 1)')
    .option('--json', 'print {"epsilon":E,"order":A}')
    .action((opts: RawOptions) => {
      try {
        const options = {
          samplingRate: number(opts, 'samplingRate'),
          noiseMultiplier: number(opts, 'noiseMultiplier'),
          steps: integer(opts, 'steps'),
          delta: number(opts, 'delta'),
        };
        const { epsilon, order } = computeEpsilon(options);
        process.stdout.write(
          opts.json
            ? JSON.stringify({ epsilon, order }) + '\n'
            : `ε = ${epsilon} at δ = ${options.delta} (Rényi order α = ${order}) after ${options.steps} steps with sampling rate ${options.samplingRate} and noise multiplier ${options.noiseMultiplier}\n`,
        );
      } catch (error) {
        fail(withFlagNames(error), Boolean(opts.json));
      }
    });

  privacy
    .command('noise')
    .description('the smallest noise multiplier whose ε after T steps stays within the target')
    .option('--sampling-rate <q>', 'probability that a member (or record) takes part in a step, in [0, 1]')
    .option('--steps <T>', 'number of steps (rounds), a positive integer')
    .option('--delta <δ>', 'δ, in (0, 1)')
    .option('--epsilon <ε>', 'target ε, > 0')
    .option('--json', 'print {"noiseMultiplier":Z}')
    .action((opts: RawOptions) => {
      try {
        const options = {
          samplingRate: number(opts, 'samplingRate'),
          steps: integer(opts, 'steps'),
          delta: number(opts, 'delta'),
          epsilon: number(opts, 'epsilon'),
        };
        const noiseMultiplier = noiseForEpsilon(options);
        process.stdout.write(
          opts.json
            ? JSON.stringify({ noiseMultiplier }) + '\n'
            : `noise multiplier ${noiseMultiplier} keeps ε ≤ ${options.epsilon} at δ = ${options.delta} over ${options.steps} steps with sampling rate ${options.samplingRate}\n`,
        );
      } catch (error) {
        fail(withFlagNames(error), Boolean(opts.json));
      }
    });
}
