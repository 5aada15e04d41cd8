// `compute status`: from the running instance if one runs on this data dir, else from the files.
import { existsSync } from "node:fs";
import { paths, readPublicIdentity } from "../paths.ts";
import { loadConfig } from "../config.ts";
import { Vault } from "../identity/vault.ts";
import type { BackendView } from "../inference/events.ts";
import { Router } from "../inference/router.ts";
import { Ledger } from "../ledger/ledger.ts";
import { Snapshot } from "../server/snapshot.ts";
import { readLock } from "../util/lock.ts";
import { COMMON_HELP, applyLogLevel, configFlagsFrom, dataDirFrom, parse, printJson, runningApi, type RunningApi } from "./common.ts";

const HELP = `Usage: compute status [--json]

Shows your npub, whether the provider is online, the relays, Ollama and its models, and earnings.
Asks the running compute on this data dir when there is one; otherwise reads the data dir.
${COMMON_HELP}`;

export interface StatusReport {
  running: boolean;
  pid: number | null;
  dashboard: string | null;
  npub: string | null;
  identity: "none" | "locked" | "unlocked";
  online: boolean;
  /** Taking no new jobs: the machine is busy (pause); null otherwise. */
  paused: string | null;
  /** Not selling by the schedule or a daily limit; null otherwise. */
  offlineReason: string | null;
  relays: Array<{ url: string; state: string; latencyMs: number | null }>;
  ollama: { url: string; reachable: boolean; version: string | null; error: string | null };
  models: Array<{ name: string; served: boolean }>;
  /** Each inference backend's health. */
  backends: BackendView[];
  earnings: { todaySats: number; todayJobs: number; weekSats: number; weekJobs: number; allSats: number; allJobs: number };
}

/** The running compute's state (GET /api/state), checked. */
export async function runningState(api: RunningApi): Promise<Snapshot> {
  const parsed = Snapshot.safeParse(await api.call("GET", "/state", undefined, 5000));
  return api.expect(parsed.data, () => parsed.success);
}

/** One backend in `compute status`: name, type, address, health, slots and models. */
export function backendLine(b: BackendView): string {
  const state = b.healthy ? `up${b.version ? ` (version ${b.version})` : ""}${b.latencyMs !== null ? ` ${b.latencyMs} ms` : ""}` : `DOWN${b.error ? `: ${b.error}` : ""}`;
  return `${b.name} (${b.type}, ${b.url}) ${state}, ${b.active}/${b.slots} slots, models: ${b.models.length ? b.models.join(", ") : "none"}`;
}

export async function status(args: string[]): Promise<number> {
  const { values } = parse(args, {});
  if (values.help) {
    process.stdout.write(HELP + "\n");
    return 0;
  }
  applyLogLevel(values);
  const dataDir = dataDirFrom(values);
  const running = readLock(dataDir);
  let report: StatusReport;
  if (running?.url && running.token) {
    const s = await runningState(runningApi({ url: running.url, token: running.token }));
    report = {
      running: true,
      pid: running.pid,
      dashboard: running.url,
      npub: s.identity.npub,
      identity: s.identity.state,
      online: s.provider.online,
      paused: s.provider.paused ?? null,
      offlineReason: s.provider.offline ?? null,
      relays: s.relays.map((r) => ({ url: r.url, state: r.state, latencyMs: r.latencyMs })),
      ollama: s.ollama,
      models: s.models.map((m) => ({ name: m.name, served: m.served })),
      backends: s.backends ?? [],
      earnings: s.earnings,
    };
  } else {
    const config = loadConfig({ dataDir, flags: configFlagsFrom(values) });
    const inference = Router.fromConfig(config);
    await inference.refresh();
    inference.stop();
    const ledgerPath = paths(dataDir).ledger;
    let earnings: StatusReport["earnings"] = { todaySats: 0, todayJobs: 0, weekSats: 0, weekJobs: 0, allSats: 0, allJobs: 0 };
    if (existsSync(ledgerPath)) {
      const ledger = Ledger.open(ledgerPath);
      try {
        earnings = ledger.earnings();
      } finally {
        ledger.close();
      }
    }
    const hasVault = Vault.exists(paths(dataDir).vault);
    report = {
      running: false,
      pid: null,
      dashboard: null,
      npub: hasVault ? (readPublicIdentity(dataDir)?.npub ?? null) : null,
      identity: hasVault ? "locked" : "none",
      online: false,
      paused: null,
      offlineReason: null,
      relays: config.relays.map((url) => ({ url, state: "not connected", latencyMs: null })),
      ollama: inference.view(),
      models: inference.models().map((m) => ({ name: m.name, served: m.served })),
      backends: inference.backends(),
      earnings,
    };
  }
  if (values.json) {
    printJson(report);
    return 0;
  }
  const e = report.earnings;
  const sats = (n: number) => Math.floor(n).toLocaleString("en-US");
  const lines = [
    `compute       ${report.running ? `running (pid ${report.pid}), dashboard ${report.dashboard}` : "not running"}`,
    `identity      ${report.npub ?? (report.identity === "none" ? "none yet: run `compute init`" : "locked")}`,
    `provider      ${report.online ? "ONLINE" : "offline"}${report.paused ? `, paused: ${report.paused}` : ""}${report.offlineReason ? ` (${report.offlineReason})` : ""}`,
    `ollama        ${report.ollama.reachable ? `reachable at ${report.ollama.url} (version ${report.ollama.version})` : `not reachable at ${report.ollama.url}${report.ollama.error ? `: ${report.ollama.error}` : ""}`}`,
    ...(report.backends.length > 1 ? [`backends      ${report.backends.map(backendLine).join("\n              ")}`] : []),
    `models        ${report.models.length ? report.models.map((m) => `${m.name}${m.served ? "" : " (not served)"}`).join(", ") : "none"}`,
    `relays        ${report.relays.map((r) => `${r.url} ${r.state}${r.latencyMs != null ? ` ${r.latencyMs} ms` : ""}`).join("\n              ")}`,
    `earnings      today ${sats(e.todaySats)} sats / ${e.todayJobs} jobs · week ${sats(e.weekSats)} sats / ${e.weekJobs} jobs · all ${sats(e.allSats)} sats / ${e.allJobs} jobs`,
  ];
  process.stdout.write(lines.join("\n") + "\n");
  return 0;
}
