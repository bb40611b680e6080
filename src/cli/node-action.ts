// What `concord node` does (registered in node-command.ts): run a member node next to its
// data until SIGINT/SIGTERM.

import { QUERY_TYPES, type QueryType } from '../analytics/query-types.js';
import { runMemberService } from '../node/service.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { MemberNameSchema } from '../protocol/messages.js';
import { DEFAULT_COORDINATOR, coordinatorUrl } from './options.js';

export async function runNode(opts: { coordinator?: string; name: string; data: string; stateDir: string; invitation?: string; ca?: string; privacyBudget?: number; privacyDelta: number; ownerKey?: string; analyticsMinCount?: number; analyticsQueries?: string; powerWatts: number; carbonIntensity: number; json?: boolean }): Promise<void> {
  const json = Boolean(opts.json);
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  process.once('SIGTERM', () => abort.abort());
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
    ...(opts.analyticsMinCount !== undefined ? { analyticsMinCount: opts.analyticsMinCount } : {}),
    ...(opts.analyticsQueries !== undefined ? { analyticsQueries: queryTypes(opts.analyticsQueries) } : {}),
    ...(opts.privacyBudget !== undefined ? { privacyBudget: { epsilon: opts.privacyBudget, delta: opts.privacyDelta } } : {}),
    energy: { powerWatts: nonNegative(opts.powerWatts, '--power-watts'), carbonIntensity: nonNegative(opts.carbonIntensity, '--carbon-intensity') },
    signal: abort.signal,
    log: (line) => process.stderr.write(json ? JSON.stringify({ member: opts.name, message: line }) + '\n' : `[${opts.name}] ${line}\n`),
  });
  process.exit(0);
}

/** --name, checked by the rule the coordinator's enrollment applies (protocol/messages.ts). */
function memberName(name: string): string {
  const result = MemberNameSchema.safeParse(name);
  if (result.success) return result.data;
  const rule = result.error.issues[0]!.message;
  throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `--name ${JSON.stringify(name)} is not a member name (${rule})`, { details: { field: '--name', expected: rule, received: name } });
}

/** The coordinator's base URL, or several replicas' comma-separated (--coordinator, $CONCORD_COORDINATOR or the default); only http(s) with a host, no query. */
function coordinatorAddress(flag: string | undefined): string {
  const field = flag === undefined && process.env.CONCORD_COORDINATOR !== undefined ? 'CONCORD_COORDINATOR' : '--coordinator';
  const text = coordinatorUrl(flag);
  // Several replicas may be listed, comma-separated; each must be a URL.
  for (const part of text.split(',')) {
    let url: URL | undefined;
    try {
      url = new URL(part.trim());
    } catch {
      // not a URL at all, e.g. 127.0.0.1:8470 without its scheme
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '' || url.search !== '' || url.hash !== '') {
      throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${field} must be an http:// or https:// URL such as ${DEFAULT_COORDINATOR}, got ${JSON.stringify(text)}; several replicas may be given, comma-separated`, {
        details: { field, expected: 'http(s)://host[:port][/path][,…]', received: text },
      });
    }
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

/** --analytics-queries: known query types only, so a typo does not silently refuse everything. */
function queryTypes(text: string): QueryType[] {
  const types = text.split(',').map((t) => t.trim()).filter(Boolean);
  const unknown = types.filter((t) => !(QUERY_TYPES as readonly string[]).includes(t));
  if (types.length === 0 || unknown.length > 0) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `--analytics-queries: ${unknown.length > 0 ? `unknown query types ${unknown.join(', ')}` : 'no query type given'}; known: ${QUERY_TYPES.join(', ')}`, { details: { field: '--analytics-queries', expected: QUERY_TYPES, received: text } });
  }
  return types as QueryType[];
}
