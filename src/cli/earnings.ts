// `compute earnings`: today / this week / all time, from the ledger (or the running instance).
import { existsSync } from "node:fs";
import { paths } from "../paths.ts";
import { Ledger } from "../ledger/ledger.ts";
import { z } from "zod";
import { Earnings } from "../ledger/events.ts";
import { readLock } from "../util/lock.ts";
import { COMMON_HELP, dataDirFrom, parse, printJson, runningApi } from "./common.ts";

/** Just the state's earnings: this command loads and checks none of the rest (`compute status` does). */
const RunningEarnings = z.object({ earnings: Earnings });

const HELP = `Usage: compute earnings [--json]

What this provider earned: today, this week (from Monday, local time) and all time, in sats and
jobs, the last 14 days, and totals per model.
${COMMON_HELP}`;

export async function earnings(args: string[]): Promise<number> {
  const { values } = parse(args, {});
  if (values.help) {
    process.stdout.write(HELP + "\n");
    return 0;
  }
  const dataDir = dataDirFrom(values);
  const running = readLock(dataDir);
  let e: Earnings;
  if (running?.url && running.token) {
    const api = runningApi({ url: running.url, token: running.token });
    e = api.expect<z.infer<typeof RunningEarnings>>(await api.call("GET", "/state", undefined, 5000), (v) => RunningEarnings.safeParse(v).success).earnings;
  } else {
    const path = paths(dataDir).ledger;
    if (!existsSync(path)) {
      e = { todaySats: 0, todayJobs: 0, weekSats: 0, weekJobs: 0, allSats: 0, allJobs: 0, days: [], byModel: [] };
    } else {
      const ledger = Ledger.open(path);
      try {
        e = ledger.earnings();
      } finally {
        ledger.close();
      }
    }
  }
  if (values.json) {
    printJson(e);
    return 0;
  }
  const sats = (n: number) => Math.floor(n).toLocaleString("en-US");
  const lines = [
    `today     ${sats(e.todaySats).padStart(12)} sats  ${e.todayJobs} jobs`,
    `week      ${sats(e.weekSats).padStart(12)} sats  ${e.weekJobs} jobs`,
    `all time  ${sats(e.allSats).padStart(12)} sats  ${e.allJobs} jobs`,
  ];
  if (e.byModel.length) lines.push("", ...e.byModel.map((m) => `${m.model.padEnd(24)} ${sats(m.sats).padStart(10)} sats  ${m.jobs} jobs`));
  process.stdout.write(lines.join("\n") + "\n");
  return 0;
}

