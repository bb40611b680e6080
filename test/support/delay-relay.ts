// A TCP relay that delays every byte it forwards, both ways, for latency where the kernel
// has no tc netem: a member connects to it on its own host (127.0.0.1:PORT) and it passes
// the connection on to the coordinator. Bytes keep their order; SIGUSR1 turns the delay on,
// SIGUSR2 off. TLS runs end to end through it (the member still pins the coordinator's CA).
// Usage: node --import tsx delay-relay.ts LISTEN_PORT TARGET_HOST TARGET_PORT DELAY_MS

import { connect, createServer, type Socket } from 'node:net';

const [listenPort, targetHost, targetPort, delayArg] = process.argv.slice(2);
const delayMs = Number(delayArg);
let active = false;
process.on('SIGUSR1', () => (active = true));
process.on('SIGUSR2', () => (active = false));

/** Forwards `from` to `to`, each chunk no earlier than `delayMs` after it arrived and after the chunk before it. */
function delayed(from: Socket, to: Socket): void {
  let last = 0;
  from.on('data', (chunk: Buffer) => {
    const at = Math.max(Date.now() + (active ? delayMs : 0), last);
    last = at;
    setTimeout(() => to.write(chunk), at - Date.now());
  });
  from.on('end', () => setTimeout(() => to.end(), Math.max(0, last - Date.now())));
  from.on('error', () => to.destroy());
}

const server = createServer((client) => {
  const upstream = connect(Number(targetPort), targetHost!);
  delayed(client, upstream);
  delayed(upstream, client);
  client.on('close', () => upstream.destroy());
  upstream.on('close', () => client.destroy());
});
server.listen(Number(listenPort), '127.0.0.1', () => process.stdout.write('listening\n'));
