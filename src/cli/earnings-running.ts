// `compute earnings` while compute runs: the running instance's own figures, from its API. Kept
// apart from earnings.ts and loaded only on this path, so the offline answer loads no zod; and
// imported statically here, not with `import("zod")`: a dynamic import of a package makes the
// bundle build that package's whole namespace (for zod ~1,000 getters) when the binary starts,
// whatever command runs (test/build/namespaces.test.ts).
import { z } from "zod";
import { Earnings } from "../ledger/events.ts";
import { runningApi } from "./common.ts";

/** Just the state's earnings: this command loads and checks none of the rest (`compute status` does). */
const RunningEarnings = z.object({ earnings: Earnings });

export async function runningEarnings(running: { url: string; token: string }): Promise<Earnings> {
  const api = runningApi({ url: running.url, token: running.token });
  return api.expect<{ earnings: Earnings }>(await api.call("GET", "/state", undefined, 5000), (v) => RunningEarnings.safeParse(v).success).earnings;
}
