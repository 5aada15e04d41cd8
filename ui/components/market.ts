// MARKET: the other kind-5050 providers seen on the relays (and our rank among them), the demand,
// the suggested price per served model with a "use suggested" button (nothing changes without
// that click), and this machine's benchmark per model with a button to run it. Reads GET
// /api/market every minute while shown.
import { html } from "htm/preact";
import { useEffect, useState } from "preact/hooks";
import { api, errorText } from "../api.ts";
import { formatInt, formatMsats } from "../format.ts";
import { notify } from "../toast.ts";
import { Empty, Panel, Spinner } from "./kit.ts";

interface Summary {
  count: number;
  median: number | null;
}
interface ProviderRow {
  pubkey: string;
  me: boolean;
  name: string | null;
  models: string[];
  alive: boolean;
  jobsAnswered: number;
  medianResultSecs: number | null;
  pricePerJob: Summary;
  listedPerJobMsats: number | null;
  encryption: boolean;
}
interface Suggestion {
  model: string;
  basis: string;
  perJobMsats: number;
  per1kTokensMsats: number;
  currentPerJobMsats: number;
  marketPerJobMsats: number | null;
  reason: string;
}
interface Bench {
  model: string;
  ttftMs: number;
  tokensPerSec: number;
  concurrency: number;
  tokensPerSecConcurrent: number;
  jobsPerHour: number;
}
export interface MarketViewData {
  report: {
    windowHours: number;
    providers: ProviderRow[];
    myRank: number | null;
    demand: { requests: number; customers: number; requestsPerHour: number; answered: number; pending: number; unserved: { requests: number; forMe: number; forMeBids: Summary }; bids: Summary };
  };
  suggestions: Suggestion[];
  benchmarks: Bench[];
  current: { perJobMsats: number; floorMsats: number };
}

const REFRESH_MS = 60_000;
const sats = (msats: number | null | undefined) => (msats === null || msats === undefined ? "—" : `${formatMsats(msats)} sats`);

export function MarketPanel() {
  const [data, setData] = useState<MarketViewData | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);

  const load = async () => {
    try {
      setData(await api<MarketViewData>("GET", "/api/market?since=7d"));
      setError(null);
    } catch (err) {
      setError(errorText(err));
    }
  };
  useEffect(() => {
    void load();
    const t = setInterval(() => void load(), REFRESH_MS);
    return () => clearInterval(t);
  }, []);

  const useSuggested = async (s: Suggestion) => {
    setBusy(`price:${s.model}`);
    try {
      // One served model: the default price; several: this model's own price.
      const pricing = data && data.suggestions.length > 1 ? { models: { [s.model]: { perJobMsats: s.perJobMsats, per1kTokensMsats: s.per1kTokensMsats } } } : { perJobMsats: s.perJobMsats, per1kTokensMsats: s.per1kTokensMsats };
      await api("PUT", "/api/settings", { pricing });
      notify("ok", `Price for ${s.model} set to ${sats(s.perJobMsats)} per job.`);
      await load();
    } catch (err) {
      notify("bad", errorText(err));
    } finally {
      setBusy(null);
    }
  };
  const benchmark = async (model: string) => {
    setBusy(`bench:${model}`);
    try {
      const b = await api<Bench>("POST", "/api/models/benchmark", { model }, 15 * 60_000);
      notify("ok", `${model}: ${b.tokensPerSec} tokens/s, about ${formatInt(b.jobsPerHour)} jobs/hour.`);
      await load();
    } catch (err) {
      notify("bad", errorText(err));
    } finally {
      setBusy(null);
    }
  };

  let body;
  if (!data) {
    body = error ? html`<p class="field-error" data-testid="market-error">${error}</p>` : html`<${Spinner} />`;
  } else {
    const r = data.report;
    const d = r.demand;
    const others = r.providers;
    body = html`
      <div class="stats" data-testid="market-demand">
        <div class="stat">
          <span class="stat-label">REQUESTS/H</span>
          <b class="stat-figure mono" data-testid="market-rate">${d.requestsPerHour}</b>
          <span class="stat-sub">${formatInt(d.requests)} from ${formatInt(d.customers)} customers</span>
        </div>
        <div class="stat">
          <span class="stat-label">ANSWERED</span>
          <b class="stat-figure mono" data-testid="market-answered">${formatInt(d.answered)}</b>
          <span class="stat-sub"><span data-testid="market-unserved">${formatInt(d.unserved.requests)}</span> unserved, ${formatInt(d.pending)} pending</span>
        </div>
        <div class="stat">
          <span class="stat-label">YOU COULD HAVE TAKEN</span>
          <b class="stat-figure mono" data-testid="market-for-me">${formatInt(d.unserved.forMe)}</b>
          <span class="stat-sub">bids ~${sats(d.unserved.forMeBids.median)}</span>
        </div>
      </div>
      ${others.length === 0
        ? html`<${Empty} title="No other providers seen yet" testid="market-empty">The market reader watches your relays; figures appear as announcements and jobs arrive.<//>`
        : html`<table class="market-table" data-testid="market-providers">
            <thead>
              <tr><th>#</th><th>PROVIDER</th><th>JOBS</th><th>MEDIAN</th><th>PRICE/JOB</th><th></th></tr>
            </thead>
            <tbody>
              ${others.slice(0, 10).map(
                (p, i) => html`<tr key=${p.pubkey} class=${p.me ? "is-me" : ""} data-testid=${p.me ? "market-me" : "market-provider"}>
                  <td class="mono">${i + 1}</td>
                  <td title=${p.models.join(", ")}>${p.me ? "YOU · " : ""}${p.name ?? p.pubkey.slice(0, 10) + "…"}${p.alive ? "" : html` <span class="faint">(away)</span>`}</td>
                  <td class="mono">${formatInt(p.jobsAnswered)}</td>
                  <td class="mono">${p.medianResultSecs === null ? "—" : `${Math.round(p.medianResultSecs)} s`}</td>
                  <td class="mono">${sats(p.pricePerJob.median ?? p.listedPerJobMsats)}</td>
                  <td>${p.encryption ? html`<span class="faint" title="takes encrypted jobs">enc</span>` : null}</td>
                </tr>`,
              )}
            </tbody>
          </table>`}
      ${r.myRank ? html`<p class="note" data-testid="market-rank">You rank #${r.myRank} of ${others.length} by jobs answered over ${Math.round(r.windowHours / 24)} days.</p>` : null}
      <h4 class="legend">YOUR PRICE</h4>
      ${data.suggestions.map((s) => {
        const bench = data.benchmarks.find((b) => b.model === s.model);
        return html`<div class="market-model" key=${s.model} data-testid="market-suggestion" data-model=${s.model}>
          <div class="btn-row between">
            <span><b class="mono">${s.model}</b> now <span class="mono" data-testid="market-current">${sats(s.currentPerJobMsats)}</span>, market ${sats(s.marketPerJobMsats)}, suggested <b class="mono" data-testid="market-suggested">${sats(s.perJobMsats)}</b></span>
            <span class="btn-row">
              <button class="btn btn-sm" data-testid="market-use-suggested" disabled=${busy !== null || s.perJobMsats === s.currentPerJobMsats} onClick=${() => void useSuggested(s)}>USE SUGGESTED</button>
              <button class="btn btn-sm btn-ghost" data-testid="market-benchmark" disabled=${busy !== null} onClick=${() => void benchmark(s.model)}>${busy === `bench:${s.model}` ? "RUNNING…" : "BENCHMARK"}</button>
            </span>
          </div>
          <p class="note" data-testid="market-reason">${s.reason}</p>
          ${bench
            ? html`<p class="note mono" data-testid="market-bench">first token ${formatInt(bench.ttftMs)} ms · ${bench.tokensPerSec} tok/s${bench.concurrency > 1 ? ` · ${bench.tokensPerSecConcurrent} tok/s ×${bench.concurrency}` : ""} · ~${formatInt(bench.jobsPerHour)} jobs/h</p>`
            : null}
        </div>`;
      })}
      ${data.current.floorMsats ? html`<p class="note">Your floor: ${sats(data.current.floorMsats)} per job.</p>` : null}
    `;
  }
  return html`<${Panel} title="MARKET" testid="market-panel" actions=${html`<span class="count mono">7 DAYS</span>`}>${body}<//>`;
}

/**
 * SETTINGS › PRICING: the market's price next to the current one, the suggestion and its reason;
 * USE SUGGESTED fills the per-job field (saved, as every setting, only with SAVE).
 */
export function MarketPriceHint(props: { onUse: (perJobSats: string) => void }) {
  const [data, setData] = useState<MarketViewData | null>(null);
  useEffect(() => {
    api<MarketViewData>("GET", "/api/market?since=7d")
      .then(setData)
      .catch(() => setData(null));
  }, []);
  const s = data?.suggestions[0];
  if (!s) return null;
  return html`<div class="market-hint note" data-testid="settings-market-hint">
    <span>Market for <b class="mono">${s.model}</b>: ${sats(s.marketPerJobMsats)}/job · yours ${sats(s.currentPerJobMsats)} · suggested <b class="mono">${sats(s.perJobMsats)}</b>. ${s.reason}</span>
    <button type="button" class="btn btn-sm" data-testid="settings-use-suggested" onClick=${() => props.onUse(String(s.perJobMsats / 1000))}>USE SUGGESTED</button>
  </div>`;
}
