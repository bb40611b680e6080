// A TCP load balancer for tests, as one would sit in front of coordinator replicas: each new
// connection goes to the next backend in turn, skipping backends that refuse it (a killed
// replica), so members reach whichever replicas are alive. Long-polls and keep-alive
// connections stay on the backend they were opened to until it drops them.

import { createServer, connect, type Server, type Socket } from 'node:net';

export interface LoadBalancer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startLoadBalancer(backends: { host: string; port: number }[], listenHost = '127.0.0.1'): Promise<LoadBalancer> {
  let next = 0;
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  };
  const server: Server = createServer((client) => {
    track(client);
    client.pause();
    client.on('error', () => undefined);
    const tryBackend = (attempt: number): void => {
      if (attempt >= backends.length) {
        client.destroy();
        return;
      }
      const backend = backends[next++ % backends.length]!;
      const upstream = connect(backend.port, backend.host);
      track(upstream);
      let connected = false;
      upstream.once('connect', () => {
        connected = true;
        upstream.on('close', () => client.destroy());
        client.on('close', () => upstream.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
      upstream.on('error', () => {
        if (!connected) tryBackend(attempt + 1);
        else client.destroy();
      });
    };
    tryBackend(0);
  });
  await new Promise<void>((resolve) => server.listen(0, listenHost, resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://${listenHost}:${port}`,
    port,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
