// GET /api/market (?since=7d|24h|90m, ?model=NAME for one model's suggested price) and
// POST /api/models/benchmark (src/market/).
import { z } from "zod";
import { AppError } from "../../errors.ts";
import { parseWindow } from "../../market/service.ts";
import type { MarketApi } from "../controller.ts";
import { exemptFromIdleTimeout, jsonBody, newRouter } from "./common.ts";
import { ModelName } from "./models.ts";

export function marketRoutes(api: MarketApi) {
  const r = newRouter();
  r.get("/market", (c) => {
    const model = c.req.query("model");
    if (model !== undefined && !/^[\w.:/-]{1,200}$/.test(model)) throw new AppError("invalid_input", "model: not a model name");
    return c.json(api.marketView({ sinceSecs: parseWindow(c.req.query("since")), ...(model ? { model } : {}) }));
  });
  r.post("/models/benchmark", jsonBody(z.strictObject({ model: ModelName.optional() })), async (c) => {
    // A benchmark takes seconds to minutes: exempt from the idle timeout, like the event stream.
    exemptFromIdleTimeout(c);
    return c.json(await api.benchmarkModel(c.req.valid("json").model));
  });
  return r;
}
