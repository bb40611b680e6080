// A small network of Linux network namespaces for multi-host tests: one namespace per
// host, each with one veth link to a bridge in a switch namespace, addresses in a /24 that
// exists only inside these namespaces. Links can be cut and healed, a host can be given
// latency and loss, and a host can be cut off from another (a blackhole route). Everything
// is removed by destroy(), which also runs when the test process exits, whatever happened.
// Needs root and a kernel that allows namespaces; `unavailable()` says why not.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface Host {
  name: string;
  /** The network namespace. */
  ns: string;
  address: string;
  /** The host's end of its link (inside its namespace). */
  device: string;
  /** The switch's end of its link. */
  port: string;
}

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });

/** Why this machine cannot build namespaces (not root, no `ip`, the kernel refuses), or undefined when it can. */
export function unavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  const probe = `ccprobe${process.pid}`;
  try {
    ip('netns', 'add', probe);
  } catch (error) {
    return `the kernel (or the sandbox) refuses network namespaces: ${(error as { stderr?: string }).stderr?.trim() || (error as Error).message}`;
  }
  try {
    ip('netns', 'del', probe);
  } catch {
    // gone already
  }
  return undefined;
}

export class TestNetwork {
  readonly hosts = new Map<string, Host>();
  readonly switchNs: string;
  private readonly prefix: string;
  private readonly subnet: string;
  private destroyed = false;
  private readonly onExit = () => this.destroy();

  private constructor() {
    // Short and unique: interface names are limited to 15 characters.
    this.prefix = `cc${randomBytes(2).toString('hex')}`;
    this.switchNs = `${this.prefix}-switch`;
    this.subnet = '10.203.7';
  }

  static create(names: string[]): TestNetwork {
    const net = new TestNetwork();
    process.once('exit', net.onExit);
    try {
      ip('netns', 'add', net.switchNs);
      ip('-n', net.switchNs, 'link', 'add', 'br0', 'type', 'bridge');
      ip('-n', net.switchNs, 'link', 'set', 'br0', 'up');
      names.forEach((name, i) => {
        const host: Host = { name, ns: `${net.prefix}-${name}`, address: `${net.subnet}.${10 + i}`, device: `${net.prefix}h${i}`, port: `${net.prefix}s${i}` };
        ip('netns', 'add', host.ns);
        ip('link', 'add', host.device, 'netns', host.ns, 'type', 'veth', 'peer', 'name', host.port, 'netns', net.switchNs);
        ip('-n', net.switchNs, 'link', 'set', host.port, 'master', 'br0');
        ip('-n', net.switchNs, 'link', 'set', host.port, 'up');
        ip('-n', host.ns, 'addr', 'add', `${host.address}/24`, 'dev', host.device);
        ip('-n', host.ns, 'link', 'set', host.device, 'up');
        ip('-n', host.ns, 'link', 'set', 'lo', 'up');
        net.hosts.set(name, host);
      });
    } catch (error) {
      net.destroy();
      throw error;
    }
    return net;
  }

  host(name: string): Host {
    const host = this.hosts.get(name);
    if (!host) throw new Error(`no host ${name}`);
    return host;
  }

  /** The command prefix that runs a program on `host`. */
  wrap(name: string): string[] {
    return ['ip', 'netns', 'exec', this.host(name).ns];
  }

  spawn(name: string, command: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
    return spawn('ip', ['netns', 'exec', this.host(name).ns, command, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  }

  /** Pulls the host's cable: its link goes down at the switch. */
  cut(name: string): void {
    ip('-n', this.switchNs, 'link', 'set', this.host(name).port, 'down');
  }

  heal(name: string): void {
    ip('-n', this.switchNs, 'link', 'set', this.host(name).port, 'up');
  }

  /** Packets from `name` to `to` vanish (as in a network partition): no error, no answer. */
  partition(name: string, to: string): void {
    ip('-n', this.host(name).ns, 'route', 'add', 'blackhole', `${this.host(to).address}/32`);
  }

  rejoin(name: string, to: string): void {
    ip('-n', this.host(name).ns, 'route', 'del', 'blackhole', `${this.host(to).address}/32`);
  }

  /**
   * Latency and loss on everything the host sends, with tc netem where the kernel has it.
   * Returns how it was done. Without netem (CONFIG_NET_SCH_NETEM off) it falls back to
   * nftables for the loss (random drops in the kernel, numgen) and reports that latency
   * must come from elsewhere (see delay-relay.ts).
   */
  impair(name: string, options: { delayMs: number; lossPercent: number }): 'netem' | 'nftables-loss' {
    const host = this.host(name);
    try {
      execFileSync('ip', ['netns', 'exec', host.ns, 'tc', 'qdisc', 'add', 'dev', host.device, 'root', 'netem', 'delay', `${options.delayMs}ms`, 'loss', `${options.lossPercent}%`], { stdio: 'pipe' });
      return 'netem';
    } catch {
      const nft = (...args: string[]) => execFileSync('ip', ['netns', 'exec', host.ns, 'nft', ...args], { stdio: 'pipe' });
      nft('add', 'table', 'inet', 'concord_impair');
      nft('add', 'chain', 'inet', 'concord_impair', 'out', '{ type filter hook output priority 0; }');
      nft('add', 'rule', 'inet', 'concord_impair', 'out', 'oifname', host.device, 'numgen', 'random', 'mod', '100', '<', String(options.lossPercent), 'drop');
      return 'nftables-loss';
    }
  }

  restore(name: string): void {
    const host = this.host(name);
    for (const args of [['tc', 'qdisc', 'del', 'dev', host.device, 'root'], ['nft', 'delete', 'table', 'inet', 'concord_impair']]) {
      try {
        execFileSync('ip', ['netns', 'exec', host.ns, ...args], { stdio: 'pipe' });
      } catch {
        // that kind of impairment was not applied
      }
    }
  }

  /** Removes every namespace (and so every link and process-facing interface) it made. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    process.removeListener('exit', this.onExit);
    for (const ns of [...[...this.hosts.values()].map((h) => h.ns), this.switchNs]) {
      try {
        execFileSync('ip', ['netns', 'pids', ns], { stdio: 'pipe' })
          .toString()
          .split('\n')
          .filter(Boolean)
          .forEach((pid) => {
            try {
              process.kill(Number(pid), 'SIGKILL');
            } catch {
              // already gone
            }
          });
      } catch {
        // no such namespace
      }
      try {
        ip('netns', 'del', ns);
      } catch {
        // not there
      }
    }
  }
}
