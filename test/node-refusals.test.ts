// `concord node` given something retrying cannot fix exits at once, non-zero, with the
// reason on stderr: a bad --name or --coordinator (before anything loads), and every
// permanent refusal from a real coordinator — a certificate it does not trust, no
// invitation where one is required, a name enrolled with another key, revocation. Each
// case only has to end: the safety timeout of concordRun is what a node looping on
// backoff would hit, and the exit code is left to the CLI (sysexits), only non-zero here.

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { coordinatorFetch, readCa } from '../src/node/coordinator-fetch.js';
import { concord, concordRun, exited, freePort, processScope, until, waitForEvent } from './support/processes.js';
import { selfSignedCertificate } from './support/tls.js';

const TOKEN = 'op-node-refusals-test';
const SAFETY_MS = 90_000;
const { children, tempDir } = processScope();

async function csvData(dir: string): Promise<string> {
  const file = join(dir, 'data.csv');
  const rows = Array.from({ length: 20 }, (_, i) => `${(i % 7) / 7},${(i % 5) / 5},${i % 2}`);
  await writeFile(file, ['x1,x2,label', ...rows].join('\n') + '\n');
  return `csv:${file},label=label`;
}

/** Runs `concord node …` to its end (or the safety timeout) and checks it failed, saying `reason`. */
async function refused(args: string[], reason: RegExp): Promise<string> {
  const { code, stderr } = await concordRun(['node', ...args], SAFETY_MS);
  assert.notEqual(code, 0, `concord node ${args.join(' ')} exited 0; stderr: ${stderr}`);
  assert.match(stderr, reason);
  return stderr;
}

describe('concord node exits at once on what retrying cannot fix', () => {
  it('a --name the coordinator would refuse, and a --coordinator that is no http(s) URL', async () => {
    const dir = await tempDir('concord-node-args-');
    const data = await csvData(dir);
    const common = ['--data', data, '--state-dir', join(dir, 'nodes')];
    await refused(['--name', 'bad name!', '--coordinator', 'http://127.0.0.1:9', ...common], /--name "bad name!" is not a member name \(letters, digits, "\.", "_" or "-"\)/);
    await refused(['--name', 'x'.repeat(129), '--coordinator', 'http://127.0.0.1:9', ...common], /--name "x+" is not a member name/);
    for (const url of ['127.0.0.1:8470', 'localhost:8470', 'ftp://127.0.0.1:8470', 'http://127.0.0.1:8470/?a=b']) {
      await refused(['--name', 'ok', '--coordinator', url, ...common], new RegExp(`--coordinator must be an http:// or https:// URL such as http://127\\.0\\.0\\.1:8470, got ${JSON.stringify(url).replace(/[.?/]/g, '\\$&')}`));
    }
  });

  it('a certificate it does not trust, no invitation, a name taken by another key, and revocation', { timeout: 240_000 }, async () => {
    const dir = await tempDir('concord-node-refusals-');
    const data = await csvData(dir);
    const tls = selfSignedCertificate(dir, 'coordinator');
    const port = await freePort();
    const coordinator = concord(['coordinator', '--port', String(port), '--db', join(dir, 'coordinator.sqlite'), '--operator-token', TOKEN, '--tls-cert', tls.certFile, '--tls-key', tls.keyFile, '--no-open-enrollment', '--json']);
    children.push(coordinator);
    const url = (await waitForEvent(coordinator, 'listening')).url as string;
    const pinned = coordinatorFetch(readCa(tls.certFile));
    const api = async <T>(path: string, body?: unknown): Promise<T> => {
      const res = await pinned(url + path, { method: body === undefined ? 'GET' : 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      assert.ok(res.ok, `${path}: HTTP ${res.status}`);
      return (await res.json()) as T;
    };
    const node = (name: string, stateDir: string, ...more: string[]) => ['--coordinator', url, '--name', name, '--data', data, '--state-dir', join(dir, stateDir), ...more];

    await refused(node('org-a', 'a'), /presented a certificate this client does not trust/);
    await refused(node('org-a', 'a', '--ca', tls.certFile), /admits new members only with an invitation/);

    const { code } = await api<{ code: string }>('/v1/invitations', { name: 'org-a' });
    const member = concord(['node', ...node('org-a', 'a', '--ca', tls.certFile, '--invitation', code)]);
    children.push(member);
    let memberLog = '';
    member.stderr!.on('data', (d: Buffer) => (memberLog += d.toString()));
    await until(async () => (await api<{ members: { name: string; online: boolean }[] }>('/v1/members')).members.some((m) => m.name === 'org-a' && m.online), 90_000, 'org-a online');

    // Another node (another state dir, so another key) under the same name.
    await refused(node('org-a', 'b', '--ca', tls.certFile), /a member named org-a is already enrolled with another key/);

    await api('/v1/members/org-a/revoke', {});
    assert.notEqual(await exited(member), 0);
    assert.match(memberLog, /member \S+ has been revoked/);
    // Started again on its state dir, it is refused again, and stops again.
    await refused(node('org-a', 'a', '--ca', tls.certFile), /member \S+ has been revoked/);
  });
});
