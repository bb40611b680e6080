// `concord agreement …` and `concord plans …`: the cooperation agreement in force and its
// amendment by signed proposals, and training plans that researchers submit and data
// owners approve or reject with their own keys. What the commands do is in
// agreement-actions.ts, loaded when one runs.

import type { Command } from 'commander';
import { lazyAction } from './options.js';
import { withConn } from './run-commands.js';

const actions = () => import('./agreement-actions.js');

export function registerAgreementCommands(program: Command): void {
  const agreement = program.command('agreement').description('the cooperation agreement in force, and amendments signed by data owners');

  withConn(agreement.command('show'))
    .description('the agreement in force and its history (versions, hashes, signers)')
    .action(lazyAction(actions, 'agreementShow'));

  agreement
    .command('propose <file>')
    .description('validate a new agreement version (YAML) and write a proposal for data owners to sign')
    .option('--out <file>', 'where to write the proposal (JSON; default: stdout)')
    .option('--json', 'machine-readable output')
    .action(lazyAction(actions, 'agreementPropose'));

  agreement
    .command('sign <proposal>')
    .description("sign a proposal with a data owner's key; the signature is added to the proposal file")
    .requiredOption('--identity <file>', "the data owner's identity file (Ed25519 key)")
    .requiredOption('--member <name>', 'the member whose owner signs')
    .option('--json', 'machine-readable output')
    .action(lazyAction(actions, 'agreementSign'));

  withConn(agreement.command('submit <proposal>'))
    .description('adopt a signed proposal; refused, naming them, without the signatures the current version requires')
    .action(lazyAction(actions, 'agreementSubmit'));

  const plans = program.command('plans').description('training plans: submitted by researchers, approved or rejected by each data owner');

  withConn(plans.command('submit'))
    .description('submit a training plan (JSON: title, researcher, purpose, datasets, config, privacy)')
    .requiredOption('--file <plan.json>', 'the plan')
    .action(lazyAction(actions, 'plansSubmit'));

  withConn(plans.command('list')).description('every plan and its approval state').action(lazyAction(actions, 'plansList'));

  withConn(plans.command('show <planId>')).description('a plan in full, with its hash and decisions').action(lazyAction(actions, 'plansShow'));

  for (const decision of ['approve', 'reject'] as const) {
    withConn(plans.command(`${decision} <planId>`))
      .description(`${decision} a plan as a member's data owner, signed with the owner's key (checked against the agreement)`)
      .requiredOption('--identity <file>', "the data owner's identity file (Ed25519 key)")
      .requiredOption('--member <name>', 'the member whose owner decides')
      .option('--reason <text>', 'why (shown to the researcher and kept in the audit log)')
      .action(lazyAction(actions, decision === 'approve' ? 'plansApprove' : 'plansReject'));
  }

  withConn(plans.command('start <planId>'))
    .description('start the run of an approved plan; refused, naming who still has to approve')
    .action(lazyAction(actions, 'plansStart'));
}
