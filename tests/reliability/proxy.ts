/**
 * A TCP fault proxy on 127.0.0.1 for the reliability suite: it forwards
 * connections to a real server and, deterministically by seed, cuts some of
 * them at a random byte offset, stalls others (stops forwarding and keeps
 * the socket open: a black hole), or drips bytes slowly. Every loop is
 * bounded; `close()` ends every connection and the listener.
 */

/** What happens to one connection. */
export type Fault = "pass" | "cut" | "stall" | "drip";

/** How the proxy chooses faults. */
export interface FaultPlan {
  /** Share of connections cut after a random number of bytes (0..1). */
  cut?: number;
  /** Share of connections that go silent after a random number of bytes. */
  stall?: number;
  /** Share of connections forwarded in small delayed pieces. */
  drip?: number;
  /** Cut/stall somewhere in the first this many bytes (client→server + server→client); default 2 MiB. */
  within?: number;
  /** Seed of the choices; default 1. */
  seed?: number;
  /** Only the first N connections can fault (later ones pass); default unlimited. */
  maxFaults?: number;
  /** The faults of the first connections, in order (instead of the shares above); then they pass. */
  sequence?: readonly Fault[];
}

/** Counters, for the assertions and the closing note. */
export interface ProxyStats {
  connections: number;
  cut: number;
  stalled: number;
  dripped: number;
}

/** A running proxy. */
export interface FaultProxy {
  port: number;
  stats: ProxyStats;
  /** Change the plan for new connections (e.g. to let the clean-up through). */
  setPlan(plan: FaultPlan): void;
  close(): Promise<void>;
}

function rng(seed: number): () => number {
  let x = (seed * 2654435761) >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

/** Start a proxy to `127.0.0.1:targetPort`. */
export function startFaultProxy(targetPort: number, plan: FaultPlan = {}): FaultProxy {
  let current = plan;
  let random = rng(plan.seed ?? 1);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const stats: ProxyStats = { connections: 0, cut: 0, stalled: 0, dripped: 0 };
  const open = new Set<Deno.Conn>();
  const tasks = new Set<Promise<void>>();
  let faults = 0;

  let next = 0;
  const choose = (): Fault => {
    if (current.sequence) return current.sequence[next++] ?? "pass";
    if (current.maxFaults !== undefined && faults >= current.maxFaults) return "pass";
    const r = random();
    const cut = current.cut ?? 0;
    const stall = current.stall ?? 0;
    const drip = current.drip ?? 0;
    if (r < cut) return "cut";
    if (r < cut + stall) return "stall";
    if (r < cut + stall + drip) return "drip";
    return "pass";
  };

  const handle = async (client: Deno.Conn) => {
    stats.connections++;
    let server: Deno.Conn;
    try {
      server = await Deno.connect({ hostname: "127.0.0.1", port: targetPort });
    } catch {
      client.close();
      return;
    }
    open.add(client);
    open.add(server);
    const fault = choose();
    if (fault !== "pass") faults++;
    let budget = fault === "cut" || fault === "stall"
      ? Math.floor(random() * (current.within ?? 2 << 20))
      : Infinity;
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      for (const c of [client, server]) {
        open.delete(c);
        try {
          c.close();
        } catch {
          // closed already
        }
      }
    };
    const pump = async (from: Deno.Conn, to: Deno.Conn) => {
      const buf = new Uint8Array(64 << 10);
      try {
        while (!ended) {
          const n = await from.read(buf);
          if (n === null) break;
          let chunk = buf.subarray(0, n);
          if (chunk.length >= budget) {
            chunk = chunk.subarray(0, budget);
            budget = 0;
            if (chunk.length) await writeAll(to, chunk);
            if (fault === "cut") {
              stats.cut++;
              return end();
            }
            // stall: keep both sockets open, forward nothing more, until close().
            stats.stalled++;
            await new Promise<void>((r) => stallers.add(r));
            return end();
          }
          budget -= chunk.length;
          if (fault === "drip") {
            for (let i = 0; i < chunk.length; i += 4096) {
              await writeAll(to, chunk.subarray(i, i + 4096));
              await new Promise((r) => setTimeout(r, 1));
            }
          } else await writeAll(to, chunk);
        }
      } catch {
        // a side went away
      }
      end();
    };
    if (fault === "drip") stats.dripped++;
    await Promise.all([pump(client, server), pump(server, client)]);
  };

  const stallers = new Set<() => void>();
  const accept = (async () => {
    try {
      for await (const conn of listener) {
        const t = handle(conn);
        tasks.add(t);
        t.finally(() => tasks.delete(t));
      }
    } catch {
      // listener closed
    }
  })();

  return {
    port: (listener.addr as Deno.NetAddr).port,
    stats,
    setPlan(p) {
      current = p;
      random = rng(p.seed ?? 1);
      faults = 0;
      next = 0;
    },
    async close() {
      listener.close();
      for (const r of stallers) r();
      for (const c of open) {
        try {
          c.close();
        } catch {
          // closed already
        }
      }
      await accept;
      await Promise.allSettled([...tasks]);
    },
  };
}

async function writeAll(to: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await to.write(data.subarray(off));
}
