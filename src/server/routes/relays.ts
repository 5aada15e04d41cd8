// POST /api/relays and DELETE /api/relays {url}: the relay list (saved to config.json).
import { z } from "zod";
import { isRelayUrl } from "../../config.ts";
import type { RelaysApi } from "../controller.ts";
import { jsonBody, newRouter } from "./common.ts";

const RelayBody = z.strictObject({ url: z.string().trim().max(500).refine(isRelayUrl, "must be a ws:// or wss:// URL") });

export function relaysRoutes(api: RelaysApi) {
  const r = newRouter();
  r.post("/", jsonBody(RelayBody), async (c) => {
    await api.addRelay(c.req.valid("json").url);
    return c.json({ relays: api.snapshot().relays });
  });
  r.delete("/", jsonBody(RelayBody), async (c) => {
    await api.removeRelay(c.req.valid("json").url);
    return c.json({ relays: api.snapshot().relays });
  });
  return r;
}
