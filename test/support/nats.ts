// A throwaway NATS server with JetStream for one test file: Debian's nats-server on a free
// port, storing in a temp folder that is removed afterwards. Killed after the file's tests.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { exited, freePort, until } from './processes.js';

export const NATS_SERVER = process.env.NATS_SERVER ?? '/usr/sbin/nats-server';

export interface NatsServer {
  url: string;
  port: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

export async function startNatsServer(): Promise<NatsServer> {
  const dir = await mkdtemp(join(tmpdir(), 'concord-nats-'));
  const port = await freePort();
  let log = '';
  const child = spawn(NATS_SERVER, ['-js', '-sd', dir, '-p', String(port), '-a', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited(child);
    }
    await rm(dir, { recursive: true, force: true });
  };
  after(stop);
  await until(
    () =>
      new Promise<boolean>((resolve) => {
        if (child.exitCode !== null) throw new Error(`nats-server exited: ${log}`);
        const socket = connect(port, '127.0.0.1', () => {
          socket.end();
          resolve(/Server is ready/.test(log));
        });
        socket.on('error', () => resolve(false));
      }),
    30_000,
    `nats-server on port ${port}`,
  );
  return { url: `nats://127.0.0.1:${port}`, port, child, stop };
}
