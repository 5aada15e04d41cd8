// GET /api/events: every bus event as one SSE message {type, properties}, a heartbeat every 10 s.
// The bus publishes synchronously; each client gets its own bounded queue drained by its own
// writer, so a slow client can only lose its own stream, never block a service.
import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import type { Bus, BusEvent } from "../bus.ts";

export const HEARTBEAT_MS = 10_000;
export const MAX_QUEUE = 1000;

export function eventStream(c: Context, bus: Bus, opts: { heartbeatMs?: number; maxQueue?: number; onEnd?: () => void } = {}) {
  const heartbeatMs = opts.heartbeatMs ?? HEARTBEAT_MS;
  const maxQueue = opts.maxQueue ?? MAX_QUEUE;
  return streamSSE(c, async (stream) => {
    const queue: BusEvent[] = [{ type: "server.connected", properties: {} }];
    let wake: (() => void) | null = null;
    let overflow = false;
    const push = (e: BusEvent) => {
      if (overflow) return;
      if (queue.length >= maxQueue) {
        // This client fell too far behind (or stopped reading): end its stream now rather than
        // hold events for it; EventSource reconnects and the UI re-reads /api/state.
        overflow = true;
        queue.length = 0;
        unsubscribe();
        stream.abort();
      } else queue.push(e);
      wake?.();
    };
    const unsubscribe = bus.subscribeAll(push);
    const beat = setInterval(() => push({ type: "server.heartbeat", properties: {} }), heartbeatMs);
    stream.onAbort(() => wake?.());
    let id = 0;
    try {
      while (!stream.aborted && !stream.closed) {
        if (overflow) break;
        const next = queue.shift();
        if (!next) {
          await new Promise<void>((r) => (wake = r));
          wake = null;
          continue;
        }
        await stream.writeSSE({ data: JSON.stringify(next, bigintSafe), event: "message", id: String(++id) });
      }
    } finally {
      clearInterval(beat);
      unsubscribe();
      opts.onEnd?.();
    }
  });
}

export function bigintSafe(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? Number(value) : value;
}
