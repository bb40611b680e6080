import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseDocumentText, validateDocumentText } from './document.js';
import { ConcordError, ErrorCode } from './errors.js';
import { RunConfigSchema } from './messages.js';
import { check, closestName, parseWith, type Problem } from './problems.js';

const base = { model: { family: 'mlp', inputShape: [2], classes: 2 }, rounds: 1 };

function problemsOf(input: unknown): Problem[] {
  const checked = check(RunConfigSchema, input);
  assert.equal(checked.ok, false, 'the input should have been refused');
  return (checked as { problems: Problem[] }).problems;
}

describe('run configuration problems', () => {
  it('refuses a misspelled protection instead of running without it, naming the field that was meant', () => {
    const [problem, ...rest] = problemsOf({ ...base, secureAggregaton: true });
    assert.equal(rest.length, 0);
    assert.equal(problem!.path, 'secureAggregaton');
    assert.match(problem!.message, /unknown field "secureAggregaton"; did you mean `secureAggregation`\?/);
  });

  it('names nested unknown keys with their path and the closest valid name', () => {
    const problems = problemsOf({ ...base, train: { epoch: 2 }, roundDeadlineSecond: 30, model: { ...base.model, dropuot: 0.2, kernel: 3 } });
    assert.deepEqual(
      problems.map((p) => p.path),
      ['model.dropuot', 'model.kernel', 'train.epoch', 'roundDeadlineSecond'],
    );
    assert.match(problems[0]!.message, /did you mean `model.dropout`\?/);
    assert.match(problems[2]!.message, /did you mean `train.epochs`\?/);
    assert.match(problems[3]!.message, /did you mean `roundDeadlineSeconds`\?/);
    // Nothing close to "kernel" in an MLP spec: the known fields are listed instead.
    assert.match(problems[1]!.message, /known fields here: family, inputShape, hidden, classes, activation/);
  });

  it('lists every problem at once, of every kind', () => {
    const problems = problemsOf({ model: { family: 'mlp', inputShape: [2], classes: 1 }, rounds: 0, strategy: { name: 'fedavgg' }, differentialPrivacy: { level: 'sample', noiseMultiplierr: 1, clippingNorm: 1, budget: { epsilon: 1, delta: 1e-5 } } });
    const paths = problems.map((p) => p.path);
    for (const expected of ['model.classes', 'rounds', 'strategy.name', 'differentialPrivacy.noiseMultiplierr', 'differentialPrivacy.noiseMultiplier']) {
      assert.ok(paths.includes(expected), `${expected} in ${paths.join(', ')}`);
    }
    assert.match(problems.find((p) => p.path === 'strategy.name')!.message, /did you mean "fedavg"\?/);
  });

  it('takes defaults per field: train.epochs alone keeps the other train defaults', () => {
    const config = RunConfigSchema.parse({ ...base, train: { epochs: 2 } });
    assert.deepEqual({ epochs: config.train.epochs, batchSize: config.train.batchSize, learningRate: config.train.learningRate, optimizer: config.train.optimizer }, { epochs: 2, batchSize: 32, learningRate: 0.05, optimizer: 'sgd' });
  });

  it('throws one error listing them, with the first field in details', () => {
    assert.throws(
      () => parseWith(RunConfigSchema, { ...base, seeed: 1, fractionTrian: 0.5 }, 'run config'),
      (error: unknown) => {
        assert.ok(error instanceof ConcordError);
        assert.equal(error.code, ErrorCode.INVALID_ARGUMENT);
        assert.equal(error.details.field, 'seeed');
        assert.match(error.message, /^run config has 2 problems:\n {2}seeed: unknown field "seeed"; did you mean `seed`\?\n {2}fractionTrian: .*did you mean `fractionTrain`\?$/);
        return true;
      },
    );
  });
});

describe('closestName', () => {
  it('suggests names a few edits away and nothing for unrelated ones', () => {
    assert.equal(closestName('epoch', ['epochs', 'batchSize']), 'epochs');
    assert.equal(closestName('learningrate', ['learningRate', 'optimizer']), 'learningRate');
    assert.equal(closestName('x', ['seed', 'rounds']), undefined);
    assert.equal(closestName('colour', ['family', 'classes']), undefined);
  });
});

describe('documents', () => {
  it('a JSON syntax error names the source, line and column', () => {
    assert.throws(
      () => parseDocumentText('{\n  "rounds": 3,\n  "seed" 4\n}', { source: 'run.json' }),
      (error: unknown) => {
        assert.ok(error instanceof ConcordError);
        assert.equal(error.code, ErrorCode.INVALID_ARGUMENT);
        assert.match(error.message, /^run\.json has 1 problem:\n {2}line 3, column 10: \(root\): JSON syntax: /);
        return true;
      },
    );
  });

  it('a duplicate key is an error, not "the last one wins"', () => {
    assert.throws(() => parseDocumentText('{"rounds": 3, "rounds": 5}', { source: 'run.json' }), /Map keys must be unique/);
  });

  it('schema problems point at the offending key, in order of position', () => {
    const text = '{\n  "model": {"family": "mlp", "inputShape": [2], "classes": 2},\n  "rounds": 2,\n  "train": {\n    "epoch": 2\n  }\n}\n';
    assert.throws(
      () => validateDocumentText(RunConfigSchema, text, { source: 'run.json' }),
      (error: unknown) => {
        assert.ok(error instanceof ConcordError);
        const [problem] = error.details.problems as Problem[];
        assert.deepEqual({ ...problem }, { path: 'train.epoch', message: 'unknown field "epoch"; did you mean `train.epochs`?', line: 5, column: 5 });
        return true;
      },
    );
  });
});
