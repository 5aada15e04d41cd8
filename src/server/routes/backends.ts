// POST /api/backends (checked by the controller: it must answer as its type, before it is saved),
// DELETE /api/backends {name}.
import { z } from "zod";
import { isHttpUrl } from "../../config.ts";
import type { BackendsApi } from "../controller.ts";
import { jsonBody, newRouter } from "./common.ts";

const BackendBody = z.strictObject({
  name: z.string().trim().max(64).optional(),
  type: z.enum(["ollama", "openai"]),
  url: z.string().trim().max(500).refine(isHttpUrl, "must be an http:// or https:// URL"),
  apiKey: z.string().trim().min(1).max(500).optional(),
  maxConcurrent: z.int().min(1).max(256).optional(),
});

export function backendsRoutes(api: BackendsApi) {
  const r = newRouter();
  r.post("/", jsonBody(BackendBody), async (c) => {
    await api.addBackend(c.req.valid("json"));
    return c.json({ backends: api.snapshot().backends ?? [] });
  });
  r.delete("/", jsonBody(z.strictObject({ name: z.string().trim().min(1).max(64) })), async (c) => {
    await api.removeBackend(c.req.valid("json").name);
    return c.json({ backends: api.snapshot().backends ?? [] });
  });
  return r;
}
