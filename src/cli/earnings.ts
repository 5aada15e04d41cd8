// `compute earnings`: today / this week / all time, from the ledger (or the running instance).
import { existsSync } from "node:fs";
import { paths } from "../paths.ts";
import { Ledger } from "../ledger/ledger.ts";
import { z } from "zod";
import { AppError } from "../errors.ts";
import { Earnings } from "../ledger/events.ts";
import { readLock } from "../util/lock.ts";
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
  const running = readLock(dataDir);
  let e: Earnings;
  if (running?.url && running.token) {
    e = await runningEarnings(running.url, running.token);
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

/**
 * The running instance's earnings: its state's `earnings`, checked alone. (`compute status` reads
 * and checks the whole state; this command loads none of that, so it answers sooner.)
 */
async function runningEarnings(url: string, token: string, timeoutMs = 5000): Promise<Earnings> {
  let res: Response;
  try {
    res = await fetch(`${url}/api/state`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const why = (err as Error).name === "TimeoutError" ? `no answer within ${timeoutMs / 1000} s` : (err as Error).message;
    throw new AppError("unavailable", `The running compute at ${url} did not answer (${why}).`);
  }
  if (!res.ok) throw new AppError("unavailable", `The running compute at ${url} answered HTTP ${res.status}.`);
  const parsed = z.object({ earnings: Earnings }).safeParse(await res.json().catch(() => null));
  if (!parsed.success) throw new AppError("unavailable", `The running compute at ${url} sent a state this version does not understand.`);
  return parsed.data.earnings;
}
