import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { ErrorCode, type ConcordError } from '../protocol/errors.js';
import { RunConfigSchema } from '../protocol/messages.js';
import {
  agreementHash, amendAgreement, assertRunAllowed, checkRun, loadAgreement, parseAgreement, signAgreement, validateAgreement,
  type Agreement, type AgreementIssue, type RunRequest,
} from './agreement.js';
import { generateIdentity } from './identity.js';

const owners = { a: generateIdentity(), b: generateIdentity(), c: generateIdentity() };

function agreement(overrides: Record<string, unknown> = {}): Agreement {
  return validateAgreement({
    version: 1,
    consortium: 'north-sea-health',
    members: [
      { name: 'hospital-a', jurisdiction: 'DE', publicKey: owners.a.publicKey, datasets: [{ id: 'ward-a', description: 'cardiology' }] },
      { name: 'hospital-b', jurisdiction: 'NL', publicKey: owners.b.publicKey, datasets: [{ id: 'ward-b', description: 'cardiology' }] },
      { name: 'lab-c', jurisdiction: 'NO', publicKey: owners.c.publicKey, datasets: [{ id: 'cohort-c', description: 'cohort' }] },
    ],
    purposes: ['cardiac-risk-prediction'],
    allowedStrategies: ['fedavg', 'fedprox'],
    allowedModelFamilies: ['mlp'],
    minContributors: 3,
    secureAggregation: 'optional',
    differentialPrivacy: { required: true, budgets: { 'ward-a': { epsilon: 8, delta: 1e-5 }, 'ward-b': { epsilon: 8, delta: 1e-5 }, 'cohort-c': { epsilon: 4, delta: 1e-6 } } },
    residency: { 'hospital-a': 'aggregates', 'hospital-b': 'model-updates', 'lab-c': 'model-updates' },
    approvals: { plansNeed: 'all-data-owners' },
    amendments: { signaturesRequired: 'all' },
    ...overrides,
  });
}

const config = RunConfigSchema.parse({ model: { family: 'mlp', inputShape: [4], hidden: [8], classes: 2 }, rounds: 3, minTrainMembers: 3 });
const allowedRun: RunRequest = {
  purpose: 'cardiac-risk-prediction',
  config,
  participants: ['hospital-a', 'hospital-b', 'lab-c'],
  secureAggregation: true,
  differentialPrivacy: { epsilon: 2, delta: 1e-6 },
};

function issuesOf(fn: () => unknown): AgreementIssue[] {
  try {
    fn();
  } catch (error) {
    assert.equal((error as ConcordError).code, ErrorCode.INVALID_ARGUMENT);
    return (error as ConcordError).details.issues as AgreementIssue[];
  }
  assert.fail('expected the agreement to be refused');
}

describe('agreement parsing', () => {
  it('loads the example agreement in docs/', async () => {
    const example = await loadAgreement('docs/agreement.example.yaml');
    assert.equal(example.version, 1);
    assert.deepEqual(example.members.map((m) => m.name), ['hospital-a', 'hospital-b', 'lab-c']);
    assert.deepEqual(example.differentialPrivacy.budgets['cohort-c'], { epsilon: 4, delta: 1e-6 });
    assert.equal(example.approvals.plansNeed, 'all-data-owners');
    const text = await readFile('docs/agreement.example.yaml', 'utf8');
    assert.equal(agreementHash(parseAgreement(text)), agreementHash(example));
  });

  it('reports a YAML syntax error with its line and column', () => {
    const issues = issuesOf(() => parseAgreement('version: 1\nmembers: [a, b\npurposes: []\n'));
    assert.equal(issues.length, 1);
    assert.equal(issues[0]!.line, 3);
    assert.equal(issues[0]!.column, 1);
    assert.match(issues[0]!.message, /^YAML syntax: /);
  });

  it('reports every schema mistake at once, each with path, expectation and position', () => {
    const text = [
      'version: two', //                                   1
      'consortium: demo', //                               2
      'members:', //                                       3
      '  - name: hospital-a', //                           4
      '    jurisdiction: Germany', //                      5
      `    publicKey: ${owners.a.publicKey}`, //           6
      '  - name: hospital-a', //                           7
      '    jurisdiction: FR', //                           8
      '    publicKey: tooshort', //                        9
      'purposes: [research]', //                           10
      'allowedStrategies: [fedavg, sgd-magic]', //         11
      'allowedModelFamilies: [mlp]', //                    12
      'minContributor: 2', //                              13
      'secureAggregation: sometimes', //                   14
      'differentialPrivacy: {required: false, budgets: {nowhere: {epsilon: 1, delta: 0}}}', // 15
      'residency: {hospital-a: aggregates}', //            16
      'approvals: {plansNeed: 5}', //                      17
      'amendments: {signaturesRequired: [hospital-z]}', // 18
    ].join('\n');
    const issues = issuesOf(() => parseAgreement(text, { source: 'consortium.yaml' }));
    const at = (path: string) => issues.find((i) => i.path === path) ?? assert.fail(`no issue at ${path}: ${JSON.stringify(issues)}`);
    assert.deepEqual(at('version'), { path: 'version', message: 'expected number, received string "two"', line: 1, column: 10 });
    assert.match(at('members[0].jurisdiction').message, /ISO 3166-1 alpha-2 .* received "Germany"/);
    assert.equal(at('members[0].jurisdiction').line, 5);
    assert.match(at('members[1].name').message, /duplicate member name "hospital-a" \(also members\[0\]\.name\)/);
    assert.equal(at('members[1].publicKey').line, 9);
    assert.match(at('allowedStrategies[1]').message, /expected one of "fedavg", .*received "sgd-magic"/);
    assert.deepEqual({ ...at('minContributor') }, { path: 'minContributor', message: 'unknown field "minContributor"; did you mean `minContributors`?', line: 13, column: 1 });
    assert.match(at('minContributors').message, /required field is missing/);
    assert.match(at('secureAggregation').message, /expected one of "required", "optional", received "sometimes"/);
    assert.match(at('differentialPrivacy.budgets.nowhere').message, /budget for unknown dataset "nowhere"/);
    assert.match(at('approvals.plansNeed').message, /needs 5 approvals, but the agreement names only 1 member/);
    assert.match(at('amendments.signaturesRequired[0]').message, /unknown member "hospital-z"/);
    assert.equal(at('amendments.signaturesRequired[0]').line, 18);
    assert.equal(issues.length, 11, JSON.stringify(issues.map((i) => i.path)));
  });

  it('puts every issue in the error message with its position', () => {
    assert.throws(
      () => parseAgreement('version: 0\n', { source: 'a.yaml' }),
      (e: ConcordError) => e.message.startsWith('a.yaml is not a valid cooperation agreement (') && e.message.includes('line 1, column 10: version: number must be greater than or equal to 1, received 0'),
    );
  });

  it('checks rules that relate clauses: budgets for required DP, residency for each member', () => {
    const issues = issuesOf(() => agreement({
      differentialPrivacy: { required: true, budgets: { 'ward-a': { epsilon: 1, delta: 1e-5 } } },
      residency: { 'hospital-a': 'aggregates' },
      minContributors: 4,
    }));
    assert.deepEqual(issues.map((i) => i.path).sort(), ['differentialPrivacy.budgets', 'minContributors', 'residency']);
    assert.match(issues.find((i) => i.path === 'differentialPrivacy.budgets')!.message, /missing: ward-b, cohort-c/);
    assert.match(issues.find((i) => i.path === 'residency')!.message, /missing: hospital-b, lab-c/);
  });
});

describe('checkRun', () => {
  it('allows a run within the agreement', () => {
    assert.deepEqual(checkRun(agreement(), allowedRun), []);
    assertRunAllowed(agreement(), allowedRun);
  });

  it('names the clause each violation breaks', () => {
    const violations = checkRun(agreement(), {
      purpose: 'marketing',
      config: RunConfigSchema.parse({ ...config, strategy: { name: 'fedadam' }, minTrainMembers: 2 }),
      participants: ['hospital-a', 'hospital-b'],
      secureAggregation: false,
      differentialPrivacy: null,
    });
    assert.deepEqual(violations.map((v) => v.message), [
      'purposes: purpose "marketing" is not allowed; allowed purposes: "cardiac-risk-prediction"',
      'allowedStrategies: strategy fedadam is not allowed; allowed: fedavg, fedprox',
      'minContributors: the run would aggregate 2 members, the agreement requires at least 3',
      'minContributors: config.minTrainMembers is 2, so a round could aggregate only 2 members; the agreement requires at least 3',
      'residency: only aggregates may leave hospital-a, so a run that includes it must use secure aggregation',
      'differentialPrivacy: the agreement requires differential privacy, the run has none',
    ]);
    assert.ok(violations.every((v) => v.message.startsWith(`${v.clause}: `)));
  });

  it('checks privacy budgets, whole or remaining, and unknown members', () => {
    const violations = checkRun(agreement(), { ...allowedRun, participants: [...allowedRun.participants, 'intruder'], differentialPrivacy: { epsilon: 5, delta: 1e-6 } }, {
      budgetRemaining: { 'ward-a': { epsilon: 4.5, delta: 1e-5 } },
    });
    assert.deepEqual(violations.map((v) => v.message), [
      'members: intruder is not a member of north-sea-health',
      'differentialPrivacy.budgets.ward-a: the run would spend ε = 5, the dataset\'s remaining budget is ε = 4.5',
      'differentialPrivacy.budgets.cohort-c: the run would spend ε = 5, the dataset\'s budget is ε = 4',
    ]);
  });

  it('requires secure aggregation when the agreement does', () => {
    const strict = agreement({ secureAggregation: 'required', residency: { 'hospital-a': 'model-updates', 'hospital-b': 'model-updates', 'lab-c': 'model-updates' } });
    assert.deepEqual(checkRun(strict, { ...allowedRun, secureAggregation: false }).map((v) => v.clause), ['secureAggregation']);
  });

  it('assertRunAllowed throws FORBIDDEN with every violation in details', () => {
    assert.throws(
      () => assertRunAllowed(agreement(), { ...allowedRun, purpose: 'ads', participants: ['lab-c'] }),
      (e: ConcordError) => e.code === ErrorCode.FORBIDDEN && (e.details.violations as unknown[]).length === 2 && e.message.includes('minContributors: the run would aggregate 1 member,'),
    );
  });
});

describe('amendAgreement', () => {
  const current = agreement();
  const proposed = { ...current, version: 2, purposes: [...current.purposes, 'model-benchmarking'] };

  it('accepts the next version signed by every required member', () => {
    const next = validateAgreement(proposed);
    const signatures = [signAgreement(next, 'hospital-a', owners.a), signAgreement(next, 'hospital-b', owners.b), signAgreement(next, 'lab-c', owners.c)];
    const result = amendAgreement(current, proposed, signatures);
    assert.equal(result.agreement.version, 2);
    assert.deepEqual(result.signers, ['hospital-a', 'hospital-b', 'lab-c']);
    assert.equal(result.hash, agreementHash(next));
  });

  it('names missing signers, forged signatures and outsiders', () => {
    const next = validateAgreement(proposed);
    const signatures = [signAgreement(next, 'hospital-a', owners.a), signAgreement(next, 'hospital-b', owners.c), signAgreement(next, 'mallory', owners.c)];
    assert.throws(
      () => amendAgreement(current, proposed, signatures),
      (e: ConcordError) => {
        assert.equal(e.code, ErrorCode.FORBIDDEN);
        assert.match(e.message, /^amendment to version 2 lacks valid signatures from: hospital-b, lab-c/);
        assert.deepEqual(e.details.missing, ['hospital-b', 'lab-c']);
        assert.deepEqual(e.details.invalid, ['hospital-b']);
        assert.deepEqual(e.details.unknown, ['mallory']);
        return true;
      },
    );
  });

  it('does not accept signatures over a different proposal', () => {
    const other = validateAgreement({ ...proposed, minContributors: 2 });
    const signatures = [signAgreement(other, 'hospital-a', owners.a), signAgreement(other, 'hospital-b', owners.b), signAgreement(other, 'lab-c', owners.c)];
    assert.throws(() => amendAgreement(current, proposed, signatures), (e: ConcordError) => (e.details.missing as string[]).length === 3);
  });

  it('needs only the listed signers, and version + 1', () => {
    const listed = agreement({ amendments: { signaturesRequired: ['lab-c'] } });
    const next = validateAgreement({ ...listed, version: 2 });
    assert.equal(amendAgreement(listed, next, [signAgreement(next, 'lab-c', owners.c)]).agreement.version, 2);
    const skipped = validateAgreement({ ...listed, version: 3 });
    assert.throws(() => amendAgreement(listed, skipped, [signAgreement(skipped, 'lab-c', owners.c)]), (e: ConcordError) => e.code === ErrorCode.CONFLICT && e.details.expected === 2);
  });
});
