// PUT /api/models/served (which models are sold), POST /api/models/pull (in the background).
import { z } from "zod";
import { createLogger } from "../../log.ts";
import type { ModelsApi } from "../controller.ts";
import { jsonBody, newRouter } from "./common.ts";

const log = createLogger("server");

export const ModelName = z.string().trim().min(1).max(200).regex(/^[\w.:/-]+$/, "not a model name");

export function modelsRoutes(api: ModelsApi) {
  const r = newRouter();
  r.put("/served", jsonBody(z.strictObject({ models: z.array(z.string().min(1).max(200)).max(500).nullable() })), async (c) => {
    await api.setServedModels(c.req.valid("json").models);
    return c.json({ models: api.snapshot().models });
  });
  r.post("/pull", jsonBody(z.strictObject({ model: ModelName })), async (c) => {
    const { model } = c.req.valid("json");
    // Pulling can take minutes: progress goes out as ollama.pull.progress events.
    api.pullModel(model).catch((err) => log.warn("pull failed", { model, err }));
    return c.json({ started: true }, 202);
  });
  return r;
}
