// `concord node`: run a member node next to its data until SIGINT/SIGTERM.

import type { Command } from 'commander';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { DEFAULT_CARBON_INTENSITY, DEFAULT_POWER_WATTS } from '../node/energy.js';
import { runMemberService } from '../node/service.js';
import { MemberNameSchema } from '../protocol/messages.js';
import { DEFAULT_COORDINATOR, coordinatorUrl, fail, parseNumberOption } from './options.js';

export function registerNodeCommand(program: Command): void {
  program
    .command('node')
    .description("run a member node: trains on this member's own data when the coordinator asks; raw data never leaves")
    .option('--coordinator <url>', 'coordinator URL (or $CONCORD_COORDINATOR)')
    .requiredOption('--name <name>', 'member name (letters, digits, . _ -)')
    .requiredOption('--data <spec>', 'data spec, e.g. mnist:member=0,members=5,partition=dirichlet,alpha=0.5 or csv:FILE,label=COLUMN')
    .option('--state-dir <dir>', 'where the node keeps its identity (Ed25519 key) and enrollment', '.concord/nodes')
    .option('--invitation <code>', "the operator's single-use invitation code, needed for the first enrollment unless the coordinator has open enrollment (or $CONCORD_INVITATION)")
    .option('--ca <file>', "PEM of the coordinator's CA or self-signed certificate; HTTPS then trusts only it (or $CONCORD_CA)")
    .option('--privacy-budget <ε>', "this member's own differential-privacy budget; it then refuses tasks without DP or beyond it", parseNumberOption('--privacy-budget'))
    .option('--privacy-delta <δ>', 'δ of that budget', parseNumberOption('--privacy-delta'), 1e-5)
    .option('--power-watts <W>', 'power this node draws while training, used when RAPL energy counters are unreadable', parseNumberOption('--power-watts'), DEFAULT_POWER_WATTS)
    .option('--carbon-intensity <g>', "grid carbon intensity where this node runs, gCO2e/kWh (default: world average)", parseNumberOption('--carbon-intensity'), DEFAULT_CARBON_INTENSITY)
    .option('--owner-key <key|file>', "the data owner's public key (base64url, or an identity/key file); the node then trains only on plans this owner approved")
    .option('--json', 'machine-readable log lines')
    .action(async (opts: { coordinator?: string; name: string; data: string; stateDir: string; invitation?: string; ca?: string; privacyBudget?: number; privacyDelta: number; ownerKey?: string; powerWatts: number; carbonIntensity: number; json?: boolean }) => {
      const json = Boolean(opts.json);
      const abort = new AbortController();
      process.once('SIGINT', () => abort.abort());
      process.once('SIGTERM', () => abort.abort());
      try {
        // Checked before the data loads: a node that cannot enroll should say so at once.
        const coordinator = coordinatorAddress(opts.coordinator);
        const name = memberName(opts.name);
        await runMemberService({
          coordinator,
          name,
          data: opts.data,
          stateDir: opts.stateDir,
          ...optional('invitation', opts.invitation ?? process.env.CONCORD_INVITATION),
          ...optional('caFile', opts.ca ?? process.env.CONCORD_CA),
          ...optional('ownerKey', opts.ownerKey),
          ...(opts.privacyBudget !== undefined ? { privacyBudget: { epsilon: opts.privacyBudget, delta: opts.privacyDelta } } : {}),
          energy: { powerWatts: nonNegative(opts.powerWatts, '--power-watts'), carbonIntensity: nonNegative(opts.carbonIntensity, '--carbon-intensity') },
          signal: abort.signal,
          log: (line) => process.stderr.write(json ? JSON.stringify({ member: opts.name, message: line }) + '\n' : `[${opts.name}] ${line}\n`),
        });
        process.exit(0);
      } catch (error) {
        fail(error, json);
      }
    });
}

/** --name, checked by the rule the coordinator's enrollment applies (protocol/messages.ts). */
function memberName(name: string): string {
  const result = MemberNameSchema.safeParse(name);
  if (result.success) return result.data;
  const rule = result.error.issues[0]!.message;
  throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `--name ${JSON.stringify(name)} is not a member name (${rule})`, { details: { field: '--name', expected: rule, received: name } });
}

/** The coordinator's base URL (--coordinator, $CONCORD_COORDINATOR or the default); only http(s) with a host, no query. */
function coordinatorAddress(flag: string | undefined): string {
  const field = flag === undefined && process.env.CONCORD_COORDINATOR !== undefined ? 'CONCORD_COORDINATOR' : '--coordinator';
  const text = coordinatorUrl(flag);
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    // not a URL at all, e.g. 127.0.0.1:8470 without its scheme
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '' || url.search !== '' || url.hash !== '') {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${field} must be an http:// or https:// URL such as ${DEFAULT_COORDINATOR}, got ${JSON.stringify(text)}`, {
      details: { field, expected: 'http(s)://host[:port][/path]', received: text },
    });
  }
  return text;
}

function nonNegative(value: number, field: string): number {
  if (!(value >= 0)) throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${field} must be a number >= 0, got ${value}`, { details: { field, expected: '>= 0', received: value } });
  return value;
}

function optional<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value ? ({ [key]: value } as Record<K, string>) : {};
}
