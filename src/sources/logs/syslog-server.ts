import dgram from 'node:dgram';
import net from 'node:net';
import type { Clock } from '../../clock.ts';
import { nullLogger, type Logger } from '../../log.ts';
import { SyslogFramer } from './syslog-framing.ts';
import { parseSyslog, syslogLabels, type SyslogMessage } from './syslog-parse.ts';

// Syslog listener on UDP and TCP. Receiving does no work but queueing: a UDP receiver that did per-message
// work (let alone a store write) loses most of a burst once the socket buffer fills. Messages wait in a
// bounded queue and are parsed and handed on in batches on later turns of the event loop. When the queue
// is full, UDP messages are dropped and counted; TCP connections are paused instead (TCP pushes back).

export type SyslogDropReason = 'garbage' | 'too_long' | 'queue_full';

export interface SyslogMetrics {
  received(transport: 'udp' | 'tcp', n: number): void;
  dropped(reason: SyslogDropReason, n: number): void;
}

export interface SyslogServerOptions {
  udp?: { host: string; port: number };
  tcp?: { host: string; port: number; maxConnections: number };
  maxMessageBytes: number;
  queue: number;
}

export interface SyslogServerDeps {
  clock: Clock;
  /** Called with parsed messages, in arrival order per transport. Must not throw. */
  onMessages: (batch: Array<{ msg: SyslogMessage; labels: Record<string, string> }>) => void;
  logger?: Logger;
  metrics?: SyslogMetrics;
}

const BATCH = 2000;
/** Bytes held in the queue at most, whatever the message count (64 KiB messages would otherwise add up). */
const MAX_QUEUED_BYTES = 64 << 20;
const EMPTY = Buffer.alloc(0);
const WARN_EVERY_MS = 10_000;

export class SyslogServer {
  readonly #o: SyslogServerOptions;
  readonly #d: SyslogServerDeps;
  readonly #log: Logger;
  #udp: dgram.Socket | null = null;
  #tcp: net.Server | null = null;
  readonly #sockets = new Set<net.Socket>();
  readonly #paused = new Set<net.Socket>();
  #queue: Buffer[] = [];
  #head = 0;
  #bytes = 0;
  #scheduled = false;
  #lastWarn = new Map<SyslogDropReason, number>();
  #dropsSinceWarn = new Map<SyslogDropReason, number>();

  constructor(opts: SyslogServerOptions, deps: SyslogServerDeps) {
    this.#o = opts;
    this.#d = deps;
    this.#log = (deps.logger ?? nullLogger).child({ component: 'syslog' });
  }

  /** Bound addresses (port 0 in config gives an ephemeral port). */
  address(): { udp: number | null; tcp: number | null } {
    const tcp = this.#tcp?.address();
    return { udp: this.#udp ? this.#udp.address().port : null, tcp: tcp && typeof tcp === 'object' ? tcp.port : null };
  }

  get queued(): number {
    return this.#queue.length - this.#head;
  }

  #full(): boolean {
    return this.queued >= this.#o.queue || this.#bytes >= MAX_QUEUED_BYTES;
  }

  async start(): Promise<void> {
    if (this.#o.udp && !this.#udp) {
      const { host, port } = this.#o.udp;
      const sock = dgram.createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', recvBufferSize: 4 << 20 });
      sock.on('message', (m) => this.#onDatagram(m));
      sock.on('error', (err) => this.#log.error('syslog UDP socket error', { err }));
      await new Promise<void>((resolve, reject) => {
        sock.once('error', reject);
        sock.bind(port, host, () => {
          sock.off('error', reject);
          resolve();
        });
      });
      this.#udp = sock;
    }
    if (this.#o.tcp && !this.#tcp) {
      const { host, port, maxConnections } = this.#o.tcp;
      const server = net.createServer((s) => this.#onConnection(s));
      server.maxConnections = maxConnections;
      server.on('error', (err) => this.#log.error('syslog TCP server error', { err }));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      this.#tcp = server;
    }
  }

  /** Stop listening, close connections, and hand on everything already queued. */
  async stop(): Promise<void> {
    const udp = this.#udp;
    this.#udp = null;
    if (udp) await new Promise<void>((r) => udp.close(() => r()));
    const tcp = this.#tcp;
    this.#tcp = null;
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
    if (tcp) await new Promise<void>((r) => tcp.close(() => r()));
    while (this.queued > 0) this.#drain();
  }

  #onDatagram(m: Buffer): void {
    this.#d.metrics?.received('udp', 1);
    if (m.length > this.#o.maxMessageBytes) return this.#drop('too_long', 1);
    if (this.#full()) return this.#drop('queue_full', 1);
    this.#enqueue(m);
  }

  #onConnection(s: net.Socket): void {
    this.#sockets.add(s);
    const framer = new SyslogFramer(this.#o.maxMessageBytes);
    s.on('data', (chunk: Buffer) => {
      const r = framer.push(chunk);
      if (r.garbage) this.#drop('garbage', r.garbage);
      if (r.tooLong) this.#drop('too_long', r.tooLong);
      if (r.frames.length) this.#d.metrics?.received('tcp', r.frames.length);
      for (const f of r.frames) this.#enqueue(f);
      if (this.#full() && !this.#paused.has(s)) {
        s.pause();
        this.#paused.add(s);
      }
    });
    s.on('error', () => s.destroy());
    s.on('close', () => {
      this.#sockets.delete(s);
      this.#paused.delete(s);
    });
  }

  #enqueue(m: Buffer): void {
    this.#queue.push(m);
    this.#bytes += m.length;
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        this.#drain();
      });
    }
  }

  /** Parse and hand on up to BATCH messages; reschedules itself while more wait. */
  #drain(): void {
    const end = Math.min(this.#queue.length, this.#head + BATCH);
    const batch: Array<{ msg: SyslogMessage; labels: Record<string, string> }> = [];
    let garbage = 0;
    for (let i = this.#head; i < end; i++) {
      const raw = this.#queue[i]!;
      this.#queue[i] = EMPTY; // free it now, not when the array is compacted
      this.#bytes -= raw.length;
      const msg = parseSyslog(raw.toString('utf8'));
      if (!msg) garbage++;
      else batch.push({ msg, labels: syslogLabels(msg) });
    }
    this.#head = end;
    if (this.#head >= this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 65536) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    if (garbage) this.#drop('garbage', garbage);
    if (batch.length) {
      try {
        this.#d.onMessages(batch);
      } catch (err) {
        this.#log.error('syslog batch handler failed', { err });
      }
    }
    if (this.queued < this.#o.queue / 2 && this.#bytes < MAX_QUEUED_BYTES / 2) {
      for (const s of this.#paused) s.resume();
      this.#paused.clear();
    }
    if (this.queued > 0 && !this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        this.#drain();
      });
    }
  }

  #drop(reason: SyslogDropReason, n: number): void {
    this.#d.metrics?.dropped(reason, n);
    // Logged, but at most once per reason every 10 s, so a flood of garbage cannot flood the log.
    const now = this.#d.clock.now();
    const pending = (this.#dropsSinceWarn.get(reason) ?? 0) + n;
    const last = this.#lastWarn.get(reason);
    if (last === undefined || now - last >= WARN_EVERY_MS) {
      this.#log.warn('syslog messages dropped', { reason, count: pending });
      this.#lastWarn.set(reason, now);
      this.#dropsSinceWarn.set(reason, 0);
    } else this.#dropsSinceWarn.set(reason, pending);
  }
}
