// POST /api/jobs/:id/cancel.
import { AppError } from "../../errors.ts";
import type { JobsApi } from "../controller.ts";
import { newRouter } from "./common.ts";

export function jobsRoutes(api: JobsApi) {
  return newRouter().post("/:id/cancel", async (c) => {
    const id = c.req.param("id");
    if (!/^[0-9a-f]{64}$/.test(id)) throw new AppError("invalid_input", "A job id is 64 hex characters.");
    await api.cancelJob(id);
    return c.json({ ok: true });
  });
}
