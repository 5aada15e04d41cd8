// POST /api/provider/online: GO ONLINE / GO OFFLINE.
import { z } from "zod";
import type { ProviderApi } from "../controller.ts";
import { jsonBody, newRouter } from "./common.ts";

export function providerRoutes(api: ProviderApi) {
  return newRouter().post("/online", jsonBody(z.strictObject({ online: z.boolean() })), async (c) => {
    await api.setOnline(c.req.valid("json").online);
    return c.json(api.snapshot().provider);
  });
}
