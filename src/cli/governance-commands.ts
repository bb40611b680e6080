// `concord invite`, `concord tokens …`, `concord members …` and `concord audit …`: who may
// join and act, and the tamper-evident record of what was done. What the commands do is in
// governance-actions.ts, loaded when one runs.

import { InvalidArgumentError, type Command } from 'commander';
import { ROLES, SCOPES } from '../governance/roles.js';
import { lazyAction } from './options.js';
import { withConn } from './run-commands.js';

const actions = () => import('./governance-actions.js');

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `90s`, `30m`, `12h`, `7d`, `2w` → milliseconds. */
export function parseDuration(name: string) {
  return (value: string): number => {
    const match = /^(\d+(?:\.\d+)?)\s*([smhdw])$/.exec(value.trim());
    if (!match || Number(match[1]) <= 0) throw new InvalidArgumentError(`${name} must be a duration such as 90s, 30m, 12h, 7d or 2w, got ${JSON.stringify(value)}`);
    return Math.round(Number(match[1]) * UNITS[match[2]!]!);
  };
}

export function registerGovernanceCommands(program: Command): void {
  withConn(program.command('invite'))
    .description('create a single-use, expiring invitation; the code is shown once (give it to the member out of band)')
    .option('--name <name>', 'only this member name may redeem it')
    .option('--role <role>', `role of the invitee: ${ROLES.join(', ')}`, 'member')
    .option('--expires <duration>', 'how long the code stays valid, e.g. 12h, 7d', parseDuration('--expires'))
    .action(lazyAction(actions, 'invite'));

  const tokens = program.command('tokens').description('scoped API tokens for researchers, auditors and operators');

  withConn(tokens.command('create'))
    .description('create an API token; it is shown once and stored only as a hash')
    .requiredOption('--role <role>', `one of ${ROLES.filter((r) => r !== 'member').join(', ')}`)
    .option('--scopes <list>', `comma-separated subset of the role's scopes (default: all of them); known: ${SCOPES.join(', ')}`)
    .option('--expires <duration>', 'lifetime, e.g. 30d (default: no expiry)', parseDuration('--expires'))
    .option('--label <text>', 'who or what the token is for')
    .action(lazyAction(actions, 'tokensCreate'));

  withConn(tokens.command('list'))
    .description('list API tokens (ids, roles, scopes; never the secrets)')
    .action(lazyAction(actions, 'tokensList'));

  withConn(tokens.command('revoke'))
    .description('revoke an API token by its id')
    .argument('<tokenId>')
    .action(lazyAction(actions, 'tokensRevoke'));

  withConn(tokens.command('redeem'))
    .description('trade a researcher/auditor invitation for an API token (no token needed)')
    .requiredOption('--invitation <code>', 'the invitation code')
    .requiredOption('--name <name>', 'your name, recorded in the audit log')
    .action(lazyAction(actions, 'tokensRedeem'));

  const members = program.command('members').description('enrolled member nodes');

  withConn(members.command('list'))
    .description('members with their key fingerprints')
    .action(lazyAction(actions, 'membersList'));

  withConn(members.command('revoke'))
    .description('revoke a member: its requests are refused from now on and it leaves any round in progress')
    .argument('<member>', 'member name or id')
    .action(lazyAction(actions, 'membersRevoke'));

  const audit = program.command('audit').description('the hash-chained audit log, signed by the coordinator');
  const auditSource = (c: Command): Command =>
    withConn(c)
      .option('--db <url>', "read the log offline from this coordinator database instead (key: coordinator.identity.json beside it, or --public-key)")
      .option('--public-key <key>', "the coordinator's public key (base64url) to verify against, pinned out of band");

  auditSource(audit.command('verify'))
    .description('check every entry: order, links, hashes and signatures; names the first bad entry and exits 1 if any')
    .option('--expect-head <seq:hash>', 'the newest entry you saw before (reveals entries removed from the end)')
    .action(lazyAction(actions, 'auditVerify'));

  auditSource(audit.command('export'))
    .description('write the log as JSON lines (one canonical entry per line), the form auditors verify')
    .requiredOption('--out <file>', 'output file, e.g. audit.jsonl')
    .action(lazyAction(actions, 'auditExport'));
}
