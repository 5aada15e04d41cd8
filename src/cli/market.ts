// `compute market [--json] [--since 7d]`: other kind-5050 providers, the demand and the prices seen
// on the relays. Asks the running compute on this data dir when there is one (its reader has been
// watching); otherwise looks at the configured relays itself, within --timeout, keeping what it
// read in market.sqlite so the next look only asks for what is new.
import { generateSecretKey } from "nostr-tools/pure";
import { Bus } from "../bus.ts";
import { loadConfig, type Config } from "../config.ts";
import { AppError } from "../errors.ts";
import { Router } from "../inference/router.ts";
import type { MarketReport } from "../market/aggregate.ts";
import { machineId } from "../market/benchmark.ts";
import { MarketReader } from "../market/reader.ts";
import { currentPrices, parseWindow, suggestionFor, type MarketView } from "../market/service.ts";
import { MarketStore, marketPath } from "../market/store.ts";
import { RelayPool } from "../nostr/pool.ts";
import { readPublicIdentity } from "../paths.ts";
import { readLock } from "../util/lock.ts";
import { COMMON_HELP, applyLogLevel, configFlagsFrom, dataDirFrom, intFlag, parse, printJson, runningApi } from "./common.ts";

const HELP = `Usage: compute market [--since 7d] [--model M] [--timeout S] [--json]

Other kind-5050 providers (name, models, last seen alive, jobs answered, median time to a result,
prices seen, encryption), the demand (requests per hour, models asked, bids, answered or not,
unserved jobs you could have taken) and a suggested price per served model. Asks the running
compute when there is one; otherwise reads the configured relays for up to --timeout seconds.

Options:
  --since D     the window: 7d (default), 24h, 90m; at most 30d
  --model M     suggest a price for this model only
  --timeout S   without a running compute: how long to read the relays (default 15)
${COMMON_HELP}`;

export const MARKET_OPTIONS = { since: { type: "string" }, model: { type: "string" }, timeout: { type: "string" } } as const;

/** The market view from the running compute, or from the relays directly. */
export async function loadMarketView(values: Record<string, unknown>): Promise<MarketView & { source: string }> {
  const dataDir = dataDirFrom(values as { "data-dir"?: string });
  const sinceSecs = parseWindow(values.since as string | undefined);
  const model = values.model as string | undefined;
  if (model !== undefined && !/^[\w.:/-]{1,200}$/.test(model)) throw new AppError("usage", "--model: not a model name.");
  const running = readLock(dataDir);
  if (running?.url && running.token) {
    const q = new URLSearchParams({ since: `${sinceSecs}` });
    if (model) q.set("model", model);
    const api = runningApi({ url: running.url, token: running.token });
    const view = api.expect<MarketView>(await api.call("GET", `/market?${q}`, undefined, 10_000), (v) => typeof v === "object" && v !== null && "report" in v && !!v.report);
    return { ...view, source: running.url };
  }
  const config = loadConfig({ dataDir, flags: configFlagsFrom(values) });
  const timeoutMs = (intFlag(values.timeout as string | undefined, "timeout", 1, 600) ?? 15) * 1000;
  const store = MarketStore.open(marketPath(dataDir));
  try {
    if (config.relays.length) {
      const pool = new RelayPool({ relays: config.relays, bus: new Bus(), signer: { secretKey: generateSecretKey() }, timeouts: { connectMs: timeoutMs, fetchMs: timeoutMs } });
      pool.start();
      try {
        const reader = new MarketReader({ store, lookbackDays: Math.max(1, Math.ceil(sinceSecs / 86_400)) });
        await reader.collectOnce(pool as never, timeoutMs);
      } finally {
        await pool.stop();
      }
    }
    const served = await servedModels(config);
    const me = readPublicIdentity(dataDir)?.pubkey ?? null;
    const nowMs = Date.now();
    const report = new MarketReader({ store }).report({ sinceSec: Math.floor(nowMs / 1000) - sinceSecs, me, myModels: served });
    const benchmarks = store.benchmarks(machineId());
    return {
      report,
      suggestions: (model ? [model] : served).map((m) => suggestionFor(m, report, benchmarks, config)),
      benchmarks,
      reader: null,
      current: currentPrices(config),
      source: config.relays.join(", ") || "no relays",
    };
  } finally {
    store.close();
  }
}

/** The served models without a running compute: asks the backends (a closed port is quick). */
async function servedModels(config: Config): Promise<string[]> {
  const inference = Router.fromConfig(config);
  try {
    await inference.refresh();
    const served = inference.servedModels();
    return served.length ? served : (config.provider.servedModels ?? []);
  } finally {
    inference.stop();
  }
}

const sats = (msats: number | null | undefined) => (msats === null || msats === undefined ? "-" : `${(msats / 1000).toLocaleString("en-US", { maximumFractionDigits: 1 })} sats`);
const ago = (nowSec: number, t: number | null) => {
  if (t === null) return "never";
  const s = Math.max(0, nowSec - t);
  return s < 120 ? `${s} s ago` : s < 7200 ? `${Math.round(s / 60)} min ago` : s < 172_800 ? `${Math.round(s / 3600)} h ago` : `${Math.round(s / 86_400)} d ago`;
};
const pad = (s: string, n: number) => (s.length > n ? s.slice(0, n - 1) + "…" : s.padEnd(n));

export function formatReport(r: MarketReport): string[] {
  const nowSec = Math.floor(r.generatedAt / 1000);
  const alive = r.providers.filter((p) => p.alive).length;
  const lines = [`PROVIDERS  ${r.providers.length} seen, ${alive} alive${r.myRank ? `; you rank #${r.myRank} by jobs answered` : ""}`];
  if (r.providers.length) lines.push(`  #   ${pad("name", 18)} ${pad("models", 26)} jobs  median  price/job     per 1k tok   enc  seen`);
  r.providers.slice(0, 40).forEach((p, i) => {
    const name = (p.me ? "* " : "") + (p.name ?? p.pubkey.slice(0, 10) + "…");
    lines.push(
      `  ${String(i + 1).padEnd(3)} ${pad(name, 18)} ${pad(p.models.join(",") || Object.keys(p.modelPrices).join(",") || "-", 26)} ${String(p.jobsAnswered).padStart(4)}  ${(p.medianResultSecs === null ? "-" : `${Math.round(p.medianResultSecs)} s`).padStart(6)}  ${pad(sats(p.pricePerJob.median ?? p.listedPerJobMsats) + (p.pricePerJob.count ? ` (${p.pricePerJob.count})` : p.listedPerJobMsats !== null ? " (listed)" : ""), 13)} ${pad(sats(p.pricePer1kTokens.median ?? p.listedPer1kTokensMsats), 12)} ${p.encryption ? "yes" : "no "}  ${p.alive ? "alive, " : ""}${ago(nowSec, p.lastSeen)}`,
    );
  });
  const d = r.demand;
  lines.push(
    "",
    `DEMAND  ${d.requests} requests from ${d.customers} customers (${d.requestsPerHour}/h${d.floods ? `; ${d.floods} flooding customers counted up to a cap` : ""}), ${d.answered} answered, ${d.unserved.requests} unserved, ${d.pending} pending`,
  );
  for (const m of d.models.slice(0, 10)) lines.push(`  ${pad(m.model, 28)} ${String(m.requests).padStart(4)} requests, ${m.answered} answered, median bid ${sats(m.medianBidMsats)}`);
  lines.push(`  bids: median ${sats(d.bids.median)} over ${d.bids.count} customers`);
  const answeredBy = Object.entries(d.answeredBy).sort((a, b) => b[1] - a[1]);
  if (answeredBy.length) {
    const name = (pk: string) => r.providers.find((p) => p.pubkey === pk)?.name ?? pk.slice(0, 10) + "…";
    lines.push(`  answered by: ${answeredBy.map(([pk, n]) => `${name(pk)} ${n}`).join(", ")}`);
  }
  lines.push(`  unserved you could have taken: ${d.unserved.forMe}${d.unserved.forMe ? ` (bids median ${sats(d.unserved.forMeBids.median)}; ${Object.entries(d.unserved.forMeModels).map(([m, n]) => `${m} ${n}`).join(", ")})` : ""}`);
  if (r.prices.length) {
    lines.push("", "PRICES (others' medians)");
    for (const p of r.prices.slice(0, 15)) lines.push(`  ${pad(p.model, 28)} ${pad(sats(p.medianPerJobMsats) + "/job", 16)} ${p.providers} provider${p.providers === 1 ? "" : "s"}${p.medianResultSecs !== null ? `, results in ${Math.round(p.medianResultSecs)} s` : ""}`);
  }
  return lines;
}

export async function market(args: string[]): Promise<number> {
  const { values } = parse(args, MARKET_OPTIONS);
  if (values.help) {
    process.stdout.write(HELP + "\n");
    return 0;
  }
  applyLogLevel(values);
  const view = await loadMarketView(values);
  if (values.json) {
    printJson(view);
    return 0;
  }
  const r = view.report;
  const lines = [`market over the last ${Math.round(r.windowHours)} h, ${r.records} events kept (from ${view.source})`, "", ...formatReport(r)];
  if (view.suggestions.length) {
    lines.push("", "SUGGESTED PRICES (compute price suggest --apply to use one)");
    for (const s of view.suggestions) lines.push(`  ${pad(s.model, 28)} ${sats(s.perJobMsats)}/job (now ${sats(s.currentPerJobMsats)}): ${s.reason}`);
  }
  process.stdout.write(lines.join("\n") + "\n");
  return 0;
}
