// The coordinator over real HTTP: sample-weighted aggregation, deadlines, retries with
// reasons, and every kind of bad input rejected with a specific error while the round
// goes on with the others and the database stays consistent.

import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { signRequest } from '../src/governance/signed-request.js';
import { CoordinatorClient } from '../src/node/client.js';
import { ConcordError, ErrorCode } from '../src/protocol/errors.js';
import { FRAME_CONTENT_TYPE, encodeFrame } from '../src/protocol/frame.js';
import { PROTOCOL_VERSION } from '../src/protocol/messages.js';
import { makeParameters } from '../src/protocol/tensors.js';
import { OPERATOR, addMember, plus, startHarness, startRun, waitForRun, type Harness } from './support/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const f32 = (x: number): number => Math.fround(x);

describe('federated rounds over HTTP', () => {
  it('aggregates sample-weighted (FedAvg) and checkpoints every round', async () => {
    h = await startHarness();
    // Members with 1, 2 and 3 examples each add their constant c_k = 1, 2, 3 to every weight.
    addMember(h, 'a', 1, plus(1));
    addMember(h, 'b', 2, plus(2));
    addMember(h, 'c', 3, plus(3));
    const runId = await startRun(h, { rounds: 2, minAvailableMembers: 3, minTrainMembers: 3 });
    assert.equal(await waitForRun(h, runId), 'completed');
    // Round 1: θ = (1·1 + 2·2 + 3·3) / 6 = 14/6; round 2 adds the same step again.
    const r1 = (await h.storage.getCheckpoint(runId, 1))!.parameters;
    const r2 = (await h.storage.getCheckpoint(runId, 2))!.parameters;
    for (const v of r1.data) assert.ok(Math.abs(v - 14 / 6) < 1e-6, `round 1 value ${v}`);
    for (const v of r2.data) assert.ok(Math.abs(v - 28 / 6) < 1e-5, `round 2 value ${v}`);
    const rounds = await h.storage.listRounds(runId);
    assert.deepEqual(rounds.map((r) => r.round), [1, 2]);
    assert.equal(rounds[0]!.participants.length, 3);
    // Federated evaluation: every member reports loss = Σθ = 6 · 14/6 = 14 on round 1.
    assert.ok(Math.abs(rounds[0]!.evalLoss! - f32(14)) < 1e-4);
    const metrics = await h.storage.listMemberMetrics(runId, 1);
    assert.equal(metrics.filter((m) => m.phase === 'train').length, 3);
    // Bytes on the wire: a train task carries the 6-parameter model (24 bytes of payload) plus a header.
    for (const m of metrics.filter((x) => x.phase === 'train')) {
      assert.ok(m.bytesOut > 24 && m.bytesOut < 2000, `bytesOut ${m.bytesOut}`);
      assert.ok(m.bytesIn > 24 && m.bytesIn < 2000, `bytesIn ${m.bytesIn}`);
    }
  });

  it('leaves out a member that misses the deadline, and rejects its late result as stale', async () => {
    h = await startHarness();
    addMember(h, 'fast-1', 10, plus(1));
    addMember(h, 'fast-2', 10, plus(3));
    const slow = addMember(h, 'slow', 10, async (g) => {
      await new Promise((r) => setTimeout(r, 1800));
      return plus(100)(g);
    });
    const runId = await startRun(h, { rounds: 1, minAvailableMembers: 3, minTrainMembers: 2, roundDeadlineSeconds: 1, fractionEvaluate: 0, minEvaluateMembers: 0 });
    assert.equal(await waitForRun(h, runId), 'completed');
    const [round] = await h.storage.listRounds(runId);
    assert.equal(round!.participants.length, 2);
    assert.equal(round!.failures.length, 1);
    assert.match(round!.failures[0]!.reason, /deadline/);
    for (const v of (await h.storage.getCheckpoint(runId, 1))!.parameters.data) assert.equal(v, 2); // (1 + 3) / 2
    await until(() => slow.rejected.length > 0);
    assert.equal(slow.rejected[0]!.code, ErrorCode.STALE_ROUND);
  });

  it('retries a round that lacks members, says why, and fails the run after maxRoundAttempts', async () => {
    h = await startHarness();
    addMember(h, 'ok-1', 5, plus(1));
    addMember(h, 'ok-2', 5, plus(1));
    addMember(h, 'stuck', 5, () => new Promise(() => undefined)); // never answers
    const runId = await startRun(h, { rounds: 1, minAvailableMembers: 3, minTrainMembers: 3, roundDeadlineSeconds: 0.5, maxRoundAttempts: 2 });
    assert.equal(await waitForRun(h, runId), 'failed');
    const events = await h.storage.listEvents(runId);
    const retries = events.filter((e) => e.kind === 'round-retry');
    assert.equal(retries.length, 2);
    assert.match(retries[0]!.message, /only 2 of the minimum 3 members reported/);
    assert.match(retries[0]!.message, /deadline/);
    const run = await h.storage.getRun(runId);
    assert.match(run!.error!, /round 1 failed 2 times/);
    assert.deepEqual(await h.storage.listRounds(runId), []);
  });
});

describe('bad input is rejected with a specific error; the round goes on', () => {
  it('wrong shapes, NaN and Inf updates are refused, and the aggregate uses only the honest members', async () => {
    h = await startHarness();
    addMember(h, 'honest-1', 10, plus(1));
    addMember(h, 'honest-2', 10, plus(3));
    const wrongShape = addMember(h, 'wrong-shape', 10, () => makeParameters([{ name: 'dense_1/kernel', shape: [3, 2] }, { name: 'dense_1/bias', shape: [2] }]));
    const wrongName = addMember(h, 'wrong-name', 10, () => makeParameters([{ name: 'other', shape: [2, 2] }, { name: 'dense_1/bias', shape: [2] }]));
    const nan = addMember(h, 'nan', 10, (g) => makeParameters(g.specs, Float32Array.from(g.data, (_, i) => (i === 4 ? NaN : 0))));
    const inf = addMember(h, 'inf', 10, (g) => makeParameters(g.specs, Float32Array.from(g.data, (_, i) => (i === 1 ? Infinity : 0))));
    const runId = await startRun(h, { rounds: 1, minAvailableMembers: 6, minTrainMembers: 2, fractionEvaluate: 0, minEvaluateMembers: 0 });
    assert.equal(await waitForRun(h, runId), 'completed');
    await until(() => [wrongShape, wrongName, nan, inf].every((m) => m.rejected.length > 0));

    assert.equal(wrongShape.rejected[0]?.code, ErrorCode.SHAPE_MISMATCH);
    assert.equal(wrongShape.rejected[0]?.details.field, 'tensors.dense_1/kernel.shape');
    assert.match(wrongShape.rejected[0]!.message, /should have shape \[2, 2\], received \[3, 2\]/);
    assert.equal(wrongName.rejected[0]?.code, ErrorCode.SHAPE_MISMATCH);
    assert.equal(wrongName.rejected[0]?.details.field, 'tensors[0].name');
    assert.equal(nan.rejected[0]?.code, ErrorCode.NON_FINITE);
    assert.equal(nan.rejected[0]?.details.field, 'tensors.dense_1/bias[0]');
    assert.equal(inf.rejected[0]?.code, ErrorCode.NON_FINITE);
    assert.equal(inf.rejected[0]?.details.field, 'tensors.dense_1/kernel[1]');

    const [round] = await h.storage.listRounds(runId);
    assert.equal(round!.participants.length, 2);
    assert.equal(round!.failures.length, 4);
    for (const f of round!.failures) assert.match(f.reason, /^update rejected \(CONCORD_ERR_(SHAPE_MISMATCH|NON_FINITE)\)/);
    for (const v of (await h.storage.getCheckpoint(runId, 1))!.parameters.data) assert.equal(v, 2);
  });

  it('refuses unauthenticated callers, unknown versions, malformed and oversized bodies', async () => {
    h = await startHarness({ bodyLimitBytes: 64 * 1024 });
    const post = (path: string, body: string | Uint8Array, headers: Record<string, string>) => fetch(h!.url + path, { method: 'POST', body: body as BodyInit, headers });

    // A member request without signature headers (a bearer token no longer counts).
    let res = await fetch(`${h.url}/v1/tasks/next`, { headers: { authorization: 'Bearer mem_nobody' } });
    assert.equal(res.status, 401);
    const refused = ((await res.json()) as ErrorBody).error;
    assert.equal(refused.code, ErrorCode.UNAUTHENTICATED);
    assert.equal(refused.details.reason, 'unsigned');
    // No credentials at all.
    res = await fetch(`${h.url}/v1/runs`);
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as ErrorBody).error.details.field, 'authorization');
    // A result from nobody.
    res = await post('/v1/tasks/x/result', encodeFrame({ protocolVersion: 1 }), { 'content-type': FRAME_CONTENT_TYPE });
    assert.equal(res.status, 401);

    // Unknown protocol version, in the header and in the body: both versions named.
    res = await fetch(`${h.url}/v1/health`, { headers: { 'concord-protocol-version': '2' } });
    assert.equal(res.status, 400);
    let body = (await res.json()) as ErrorBody;
    assert.equal(body.error.code, ErrorCode.PROTOCOL_VERSION);
    assert.match(body.error.message, /version 2.*version 1/);
    res = await post('/v1/members/enroll', JSON.stringify({ protocolVersion: 7, name: 'x', dataset: {} }), { 'content-type': 'application/json' });
    body = (await res.json()) as ErrorBody;
    assert.equal(body.error.code, ErrorCode.PROTOCOL_VERSION);
    assert.deepEqual([body.error.details.expected, body.error.details.received], [PROTOCOL_VERSION, 7]);

    // Malformed enrollment: the field and what was expected.
    res = await post('/v1/members/enroll', JSON.stringify({ protocolVersion: 1, name: 'bad name!', dataset: { name: 'd', numExamples: 1, numHoldout: 0, inputShape: [2], classes: 2 } }), { 'content-type': 'application/json' });
    body = (await res.json()) as ErrorBody;
    assert.equal(res.status, 400);
    assert.equal(body.error.code, ErrorCode.INVALID_MESSAGE);
    assert.equal(body.error.details.field, 'name');
    res = await post('/v1/members/enroll', '{not json', { 'content-type': 'application/json' });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as ErrorBody).error.code, ErrorCode.INVALID_MESSAGE);

    // Oversized body: refused before it is read into memory.
    const dataset = { name: 'd', numExamples: 1, numHoldout: 0, inputShape: [2], classes: 2 };
    const client = new CoordinatorClient(h.url);
    const { memberId } = await client.enroll('big', dataset);
    const huge = encodeFrame({ protocolVersion: 1 }, makeParameters([{ name: 'w', shape: [32 * 1024] }]));
    const signed = signRequest(client.identity, { method: 'POST', path: '/v1/tasks/anything/result', body: huge, memberId });
    res = await post('/v1/tasks/anything/result', huge, { 'content-type': FRAME_CONTENT_TYPE, ...signed });
    assert.equal(res.status, 413);
    body = (await res.json()) as ErrorBody;
    assert.equal(body.error.code, ErrorCode.PAYLOAD_TOO_LARGE);
    assert.match(body.error.message, /65536 bytes/);

    // A result for a task that was never issued.
    await assert.rejects(client.submitResult({ taskId: 'never-issued', runId: 'run_x', round: 1, kind: 'evaluate', numExamples: 0, metrics: { loss: 0 } }), (e: unknown) => {
      assert.ok(e instanceof ConcordError);
      assert.equal(e.code, ErrorCode.STALE_ROUND);
      assert.equal(e.details.status, 409);
      return true;
    });

    // Taking over an enrolled name with another key is refused; the same key re-enrolls.
    await assert.rejects(new CoordinatorClient(h.url).enroll('big', dataset), (e: unknown) => e instanceof ConcordError && e.code === ErrorCode.CONFLICT && e.details.field === 'name');
    assert.deepEqual(await new CoordinatorClient(h.url, { identity: client.identity }).enroll('big', dataset), { memberId });

    // Run configs are validated field by field.
    res = await post('/v1/runs', JSON.stringify({ model: { family: 'mlp', inputShape: [2], classes: 2 }, rounds: 0 }), { 'content-type': 'application/json', authorization: `Bearer ${OPERATOR}` });
    body = (await res.json()) as ErrorBody;
    assert.equal(body.error.details.field, 'rounds');
    assert.deepEqual(await h.storage.listRuns(), []);
  });
});

describe('protocol version header', () => {
  it('a header that is no version number is named as received, with the version expected', async () => {
    const { url } = (h = await startHarness());
    for (const text of ['abc', '1.0', '1; 2']) {
      const res = await fetch(`${url}/v1/health`, { headers: { 'concord-protocol-version': text } });
      assert.equal(res.status, 400, text);
      const { error } = (await res.json()) as ErrorBody;
      assert.equal(error.code, ErrorCode.PROTOCOL_VERSION);
      assert.equal(error.message, `header concord-protocol-version must be a protocol version number, received ${JSON.stringify(text)}; this side speaks version ${PROTOCOL_VERSION}`);
      assert.deepEqual([error.details.field, error.details.expected, error.details.received], ['header concord-protocol-version', PROTOCOL_VERSION, text]);
    }
    // A number is compared as before, and the right one passes.
    const other = (await (await fetch(`${url}/v1/health`, { headers: { 'concord-protocol-version': '02' } })).json()) as ErrorBody;
    assert.equal(other.error.message, `peer speaks protocol version 2, this side speaks version ${PROTOCOL_VERSION}`);
    assert.equal((await fetch(`${url}/v1/health`, { headers: { 'concord-protocol-version': String(PROTOCOL_VERSION) } })).status, 200);
  });
});

describe('numeric query parameters', () => {
  it('a round or waitMs that is no non-negative integer is refused with 400 naming it', async () => {
    const harness = (h = await startHarness());
    const runId = await startRun(harness, { rounds: 1 }); // waits for members that never come; it only has to exist
    const get = async (path: string, headers: Record<string, string> = { authorization: `Bearer ${OPERATOR}` }) => {
      const res = await fetch(harness.url + path, { headers });
      return { status: res.status, body: (await res.json()) as ErrorBody & { members?: unknown[] } };
    };
    for (const route of ['metrics', 'model']) {
      for (const round of ['abc', '1.5', '-1', '1e400', '0x']) {
        const { status, body } = await get(`/v1/runs/${runId}/${route}?round=${encodeURIComponent(round)}`);
        assert.equal(status, 400, `${route} round=${round}`);
        assert.equal(body.error.code, ErrorCode.INVALID_ARGUMENT);
        assert.deepEqual([body.error.details.field, body.error.details.expected, body.error.details.received], ['round', 'a non-negative integer', round]);
        assert.equal(body.error.message, `round must be a non-negative integer, got ${JSON.stringify(round)}`);
      }
    }
    const metrics = await get(`/v1/runs/${runId}/metrics?round=1`);
    assert.equal(metrics.status, 200);
    assert.deepEqual(metrics.body.members, []);

    // A member's long-poll: the wait is a number of milliseconds too.
    const client = new CoordinatorClient(harness.url);
    const { memberId } = await client.enroll('poller', { name: 'd', numExamples: 1, numHoldout: 0, inputShape: [2], classes: 2 });
    const path = '/v1/tasks/next?waitMs=soon';
    const { status, body } = await get(path, signRequest(client.identity, { method: 'GET', path, memberId }));
    assert.equal(status, 400);
    assert.equal(body.error.details.field, 'waitMs');
    assert.match(body.error.message, /^waitMs must be a non-negative integer, got "soon"/);
  });
});

describe('content types', () => {
  it('a correctly signed request with a wrong or missing content type is refused as an unsupported content type, not as a bad signature', async () => {
    h = await startHarness();
    const client = new CoordinatorClient(h.url);
    const { memberId } = await client.enroll('typed', { name: 'd', numExamples: 1, numHoldout: 0, inputShape: [2], classes: 2 });
    const send = async (path: string, body: string | Uint8Array, contentType: string | undefined): Promise<{ status: number; error: ErrorBody['error'] }> => {
      const bytes = typeof body === 'string' ? Buffer.from(body) : body;
      const headers: Record<string, string> = { ...signRequest(client.identity, { method: 'POST', path, body: bytes, memberId }) };
      if (contentType !== undefined) headers['content-type'] = contentType;
      const res = await fetch(h!.url + path, { method: 'POST', headers, body: bytes as BodyInit });
      return { status: res.status, error: ((await res.json()) as ErrorBody).error };
    };
    const expected = ['application/json', FRAME_CONTENT_TYPE];
    for (const [path, body, contentType] of [
      ['/v1/members/heartbeat', '{}', 'text/plain'],
      ['/v1/members/heartbeat', '{}', 'text/plain; charset=utf-8'],
      ['/v1/tasks/some-task/decline', '{"reason":"no"}', 'text/plain'],
      ['/v1/tasks/some-task/result', encodeFrame({ protocolVersion: 1 }), 'application/octet-stream'],
      ['/v1/tasks/some-task/result', encodeFrame({ protocolVersion: 1 }), undefined],
    ] as const) {
      const { status, error } = await send(path, body, contentType);
      const what = `${path} as ${contentType ?? 'no content type'}`;
      assert.equal(status, 400, what);
      assert.equal(error.code, ErrorCode.INVALID_MESSAGE, what);
      assert.equal(error.details.field, 'content-type', what);
      assert.deepEqual(error.details.expected, expected, what);
      assert.equal(error.details.received, contentType ?? null, what);
      const named = contentType === undefined ? 'no content-type header' : JSON.stringify(contentType);
      assert.ok(error.message.startsWith('unsupported content type') && error.message.includes(named), `${what}: ${error.message}`);
      assert.match(error.message, /send application\/json \(JSON bodies\) or application\/vnd\.concord\.frame \(task results\)/, what);
    }
    // JSON where a frame belongs: the result route names both.
    const { status, error } = await send('/v1/tasks/some-task/result', '{}', 'application/json');
    assert.equal(status, 400);
    assert.equal(error.message, `results must be sent as ${FRAME_CONTENT_TYPE}, received "application/json"`);
    // The same signed heartbeat with its content type goes through.
    const ok = await fetch(`${h.url}/v1/members/heartbeat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...signRequest(client.identity, { method: 'POST', path: '/v1/members/heartbeat', body: Buffer.from('{}'), memberId }) },
      body: '{}',
    });
    assert.equal(ok.status, 200);
  });
});

interface ErrorBody {
  error: { code: string; message: string; details: Record<string, unknown> };
}

async function until(predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}
