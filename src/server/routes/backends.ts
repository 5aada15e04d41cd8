// POST /api/backends (checked by the controller: it must answer as its type, before it is saved),
// DELETE /api/backends {name}. A controller without backends answers 404.
import type { MiddlewareHandler } from "hono";
import { z } from "zod";
import { isHttpUrl } from "../../config.ts";
import { AppError } from "../../errors.ts";
import type { BackendsApi } from "../controller.ts";
import { jsonBody, newRouter } from "./common.ts";

const BackendBody = z.strictObject({
  name: z.string().trim().max(64).optional(),
  type: z.enum(["ollama", "openai"]),
  url: z.string().trim().max(500).refine(isHttpUrl, "must be an http:// or https:// URL"),
  apiKey: z.string().trim().min(1).max(500).optional(),
  maxConcurrent: z.int().min(1).max(256).optional(),
});

const notHere = (): never => {
  throw new AppError("not_found", "Backends can't be changed here.");
};

export function backendsRoutes(api: BackendsApi) {
  const r = newRouter();
  // Said before the body is read: there is nothing to add to.
  const canAdd: MiddlewareHandler = async (_c, next) => {
    if (!api.addBackend) notHere();
    await next();
  };
  r.post("/", canAdd, jsonBody(BackendBody), async (c) => {
    await (api.addBackend?.(c.req.valid("json")) ?? notHere());
    return c.json({ backends: api.snapshot().backends ?? [] });
  });
  r.delete("/", jsonBody(z.strictObject({ name: z.string().trim().min(1).max(64) })), async (c) => {
    await (api.removeBackend?.(c.req.valid("json").name) ?? notHere());
    return c.json({ backends: api.snapshot().backends ?? [] });
  });
  return r;
}
