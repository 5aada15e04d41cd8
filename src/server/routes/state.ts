// GET /api/state (the whole snapshot) and GET /api/events (the live event stream, bounded in number).
import { AppError } from "../../errors.ts";
import type { StateApi } from "../controller.ts";
import { eventStream } from "../events.ts";
import { exemptFromIdleTimeout, newRouter } from "./common.ts";

/** Event streams open at once (a dashboard holds one; each holds a descriptor for good). */
export const MAX_EVENT_STREAMS = 16;

export function stateRoutes(api: StateApi, opts: { heartbeatMs?: number; maxEventStreams?: number }) {
  const r = newRouter();
  r.get("/state", (c) => c.json(api.snapshot()));
  let streams = 0;
  r.get("/events", (c) => {
    if (streams >= (opts.maxEventStreams ?? MAX_EVENT_STREAMS)) throw new AppError("unavailable", "Too many event streams are open; close another dashboard tab.");
    // The one long-lived request: it sends its own heartbeat.
    exemptFromIdleTimeout(c);
    streams++;
    let counted = true;
    const release = () => {
      if (counted) streams--;
      counted = false;
    };
    c.req.raw.signal.addEventListener("abort", release, { once: true });
    return eventStream(c, api.bus, { heartbeatMs: opts.heartbeatMs, onEnd: release });
  });
  return r;
}
