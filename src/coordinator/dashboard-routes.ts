// The consortium dashboard the coordinator serves at `/`: the built front end of web/
// (static files, no path traversal), a Server-Sent Events stream that tells open pages
// what changed so they refetch, and the audit chain's verification for the Audit page.
// The stream polls storage instead of hooking into the round loop: it then sees every
// change, whichever process or run made it, and cannot slow a round down.
// A browser's EventSource cannot send headers, so the stream also accepts the bearer
// token as `?token=`; every other call of the dashboard sends the Authorization header.
// A stream outlives the check made when it opened, so every poll checks the token again:
// once it is revoked or expires the stream says why (event `closed`) and ends.

import { readFile, stat } from 'node:fs/promises';
import { extname, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { verifyChain } from '../governance/audit.js';
import type { Scope } from '../governance/roles.js';
import { toConcordError } from '../protocol/errors.js';
import type { Storage } from '../storage/storage.js';
import type { JoinContext } from './join-context.js';

export interface DashboardRouteOptions {
  storage: Storage;
  /** Throws unless the caller's bearer token carries `scope`. */
  authorize: (request: FastifyRequest, scope: Scope) => Promise<unknown>;
  /** The coordinator's audit-signing public key, to verify the audit chain. */
  publicKey: string;
  /** The built front end. Default: web/dist of this repository. */
  root?: string;
  /** How often the event stream looks for changes. Default 500 ms. */
  pollMs?: number;
  /** A comment line keeps idle streams open through proxies. Default 15 000 ms. */
  keepAliveMs?: number;
  /** What /join shows before data is picked (join-context.ts); the route is absent without it. */
  joinContext?: (invitation: string | undefined) => Promise<JoinContext>;
}

export const DEFAULT_DASHBOARD_ROOT = fileURLToPath(new URL('../../web/dist/', import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
  // The join page's TF.js WASM backend: browsers compile it while it downloads
  // (WebAssembly.instantiateStreaming) only when it comes as application/wasm.
  '.wasm': 'application/wasm',
  // The join page's built-in demo shard of MNIST digits (web/vite.config.ts).
  '.bin': 'application/octet-stream',
};

/** What a page may need to refetch; one entry per kind of change. */
export interface DashboardSnapshot {
  runs: string;
  rounds: Map<string, number>;
  members: string;
  audit: number;
}

/** The state the stream compares between polls: cheap summaries, not the data itself. */
export async function dashboardSnapshot(storage: Storage): Promise<DashboardSnapshot> {
  const runs = await storage.listRuns();
  const rounds = new Map<string, number>();
  for (const run of runs) {
    rounds.set(run.runId, (await storage.lastRound(run.runId))?.round ?? 0);
  }
  const members = await storage.listMembers();
  return {
    runs: runs.map((r) => `${r.runId}:${r.status}:${r.updatedAt}`).join(','),
    rounds,
    members: members.map((m) => `${m.memberId}:${m.lastSeenAt ?? 0}:${m.revoked}`).join(','),
    audit: await storage.countAudit(),
  };
}

/** The events that take `before` to `after`; everything when there was no `before`. */
export function dashboardEvents(before: DashboardSnapshot | null, after: DashboardSnapshot): { event: string; data: unknown }[] {
  const events: { event: string; data: unknown }[] = [];
  if (before?.runs !== after.runs) events.push({ event: 'runs', data: {} });
  for (const [runId, round] of after.rounds) {
    if (before?.rounds.get(runId) !== round) events.push({ event: 'round', data: { runId, round } });
  }
  if (before?.members !== after.members) events.push({ event: 'members', data: {} });
  if (before?.audit !== after.audit) events.push({ event: 'audit', data: { count: after.audit } });
  return events;
}

export function registerDashboardRoutes(app: FastifyInstance, options: DashboardRouteOptions): void {
  const { storage, authorize } = options;
  const root = resolve(options.root ?? DEFAULT_DASHBOARD_ROOT);
  const pollMs = options.pollMs ?? 500;
  const keepAliveMs = options.keepAliveMs ?? 15_000;
  const streams = new Set<() => void>();
  app.addHook('onClose', async () => {
    for (const end of [...streams]) end();
  });

  async function sendFile(reply: FastifyReply, relative: string): Promise<FastifyReply> {
    const path = resolve(root, relative);
    if (!path.startsWith(root + sep)) return reply.code(404).send({ error: { code: 'NOT_FOUND', message: 'no such file' } });
    const info = await stat(path).catch(() => undefined);
    if (!info?.isFile()) {
      if (relative === 'index.html') {
        return reply
          .code(503)
          .type('text/plain; charset=utf-8')
          .send(`the dashboard is not built: run "npm run build:web" (looked in ${root})`);
      }
      return reply.code(404).send({ error: { code: 'NOT_FOUND', message: `no file ${relative}` } });
    }
    // Built assets carry a content hash in their names (the TF.js WASM binaries their package
    // version, in their directory); the page itself must stay fresh.
    reply.header('cache-control', relative.endsWith('.html') ? 'no-cache' : 'public, max-age=31536000, immutable');
    reply.header('x-content-type-options', 'nosniff');
    return reply.type(CONTENT_TYPES[extname(path)] ?? 'application/octet-stream').send(await readFile(path));
  }

  app.get('/', async (_request, reply) => sendFile(reply, 'index.html'));
  app.get('/index.html', async (_request, reply) => sendFile(reply, 'index.html'));
  // The zero-install browser member (web/join.html): it signs its own requests, so no token.
  app.get('/join', async (_request, reply) => sendFile(reply, 'join.html'));
  // No token: the visitor is nobody yet; join-context.ts decides what they may see.
  if (options.joinContext) {
    const context = options.joinContext;
    app.get<{ Querystring: { invitation?: string } }>('/v1/join/context', async (request) => context(typeof request.query.invitation === 'string' ? request.query.invitation : undefined));
  }
  app.get<{ Params: { '*': string } }>('/assets/*', async (request, reply) => sendFile(reply, `assets/${request.params['*']}`));

  app.get<{ Querystring: { token?: string } }>('/v1/events/stream', async (request, reply) => {
    const token = request.query.token;
    if (request.headers.authorization === undefined && typeof token === 'string' && token.length > 0) {
      request.headers.authorization = `Bearer ${token}`;
    }
    await authorize(request, 'runs:read');
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    raw.write(`retry: 2000\n\n`);
    let last: DashboardSnapshot | null = null;
    let busy = false;
    let ended = false;
    const tick = async () => {
      if (busy || ended) return;
      busy = true;
      try {
        try {
          await authorize(request, 'runs:read');
        } catch (error) {
          // Fail closed: whatever the reason the token no longer passes, nothing more is sent.
          if (!ended) raw.write(`event: closed\ndata: ${JSON.stringify({ error: toConcordError(error).toJSON() })}\n\n`);
          end();
          return;
        }
        const next = await dashboardSnapshot(storage);
        if (ended) return;
        for (const e of dashboardEvents(last, next)) raw.write(`event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`);
        last = next;
      } catch {
        // Storage closing under a live stream: the stream ends with the server.
      } finally {
        busy = false;
      }
    };
    const poll = setInterval(() => void tick(), pollMs);
    const keepAlive = setInterval(() => raw.write(': keep-alive\n\n'), keepAliveMs);
    const end = () => {
      if (ended) return;
      ended = true;
      clearInterval(poll);
      clearInterval(keepAlive);
      streams.delete(end);
      raw.end();
    };
    streams.add(end);
    request.raw.once('close', end);
    await tick();
  });

  app.get('/v1/audit/verification', async (request) => {
    await authorize(request, 'audit:read');
    const entries = await storage.listAudit();
    const head = entries.at(-1);
    const verification = verifyChain(entries, options.publicKey, head ? { expectedHead: { seq: head.seq, hash: head.hash } } : {});
    return { count: entries.length, verification };
  });
}
