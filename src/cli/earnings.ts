// `compute earnings`: today / this week / all time, from the ledger (or the running instance).
// Offline (no lock file) on a ledger of this build's schema, it loads neither zod, the config
// schema nor the Ledger class, and takes local dates from SQLite (ledger/earnings-offline.ts): the
// answer comes a few ms after the runtime starts. Anything else is loaded when needed.
import { existsSync } from "node:fs";
import { lockPath, paths } from "../data-dir.ts";
import { readEarningsOffline } from "../ledger/earnings-offline.ts";
import type { Earnings } from "../ledger/events.ts";
import { COMMON_HELP, dataDirFrom, parse, printJson } from "./common.ts";

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
  const running = existsSync(lockPath(dataDir)) ? (await import("../util/lock.ts")).readLock(dataDir) : null;
  let e: Earnings;
  if (running?.url && running.token) {
    e = await (await import("./earnings-running.ts")).runningEarnings({ url: running.url, token: running.token });
  } else {
    const path = paths(dataDir).ledger;
    if (!existsSync(path)) {
      e = { todaySats: 0, todayJobs: 0, weekSats: 0, weekJobs: 0, allSats: 0, allJobs: 0, days: [], byModel: [] };
    } else {
      const quick = readEarningsOffline(path);
      if (quick) e = quick;
      else {
        // An older ledger (migrated here), a newer one, a damaged file: the Ledger's own open
        // migrates or words the error.
        const { Ledger } = await import("../ledger/ledger.ts");
        const ledger = Ledger.open(path);
        try {
          e = ledger.earnings();
        } finally {
          ledger.close();
        }
      }
    }
  }
  if (values.json) {
    printJson(e);
    return 0;
  }
  const sats = (n: number) => groupThousands(Math.floor(n));
  const lines = [
    `today     ${sats(e.todaySats).padStart(12)} sats  ${e.todayJobs} jobs`,
    `week      ${sats(e.weekSats).padStart(12)} sats  ${e.weekJobs} jobs`,
    `all time  ${sats(e.allSats).padStart(12)} sats  ${e.allJobs} jobs`,
  ];
  if (e.byModel.length) lines.push("", ...e.byModel.map((m) => `${m.model.padEnd(24)} ${sats(m.sats).padStart(10)} sats  ${m.jobs} jobs`));
  process.stdout.write(lines.join("\n") + "\n");
  return 0;
}

/**
 * An integer with comma thousands separators, as toLocaleString("en-US") writes it (for any
 * amount of sats there can be) without loading Intl's locale data, which costs ms at start-up.
 */
export function groupThousands(n: number): string {
  const digits = String(Math.abs(n));
  let out = digits.slice(0, ((digits.length - 1) % 3) + 1);
  for (let i = out.length; i < digits.length; i += 3) out += "," + digits.slice(i, i + 3);
  return (n < 0 ? "-" : "") + out;
}
