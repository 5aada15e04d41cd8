// MARKET: the other kind-5050 providers seen on the relays (and our rank among them), the demand,
// the suggested price per served model with a "use suggested" button (nothing changes without
// that click), and this machine's benchmark per model with a button to run it (components/bench.ts, as
// in MODELS). Reads state.ts's market slices, which ui/market-feed.ts refreshes every minute while shown.
import { html } from "htm/preact";
import { useAction } from "../action.ts";
import { api } from "../api.ts";
import { formatInt, formatMsats } from "../format.ts";
import { loadMarket, marketError, useMarketFeed } from "../market-feed.ts";
import { marketCurrent, marketReport, marketSuggestions, type MarketView } from "../state.ts";
import { notify } from "../toast.ts";
import { BenchButton, BenchFigures, useBenchmark } from "./bench.ts";
import { Empty, Panel, Spinner } from "./kit.ts";

type Suggestion = MarketView["suggestions"][number];

const sats = (msats: number | null | undefined) => (msats === null || msats === undefined ? "—" : `${formatMsats(msats)} sats`);

export function MarketPanel() {
  useMarketFeed();
  const r = marketReport.value;
  const suggestions = marketSuggestions.value;
  const current = marketCurrent.value;
  const error = marketError.value;
  const pricing = useAction({ errors: "toast" });
  const bench = useBenchmark();

  const useSuggested = (s: Suggestion) =>
    pricing.run(async () => {
      // One served model: the default price; several: this model's own price.
      const prices = { perJobMsats: s.perJobMsats, per1kTokensMsats: s.per1kTokensMsats };
      await api("PUT", "/api/settings", { pricing: suggestions.length > 1 ? { models: { [s.model]: prices } } : prices });
      notify("ok", `Price for ${s.model} set to ${sats(s.perJobMsats)} per job.`);
      await loadMarket();
    }, s.model);

  let body;
  if (!r || !current) {
    body = error ? html`<p class="field-error" data-testid="market-error">${error}</p>` : html`<${Spinner} />`;
  } else {
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
      ${suggestions.map(
        (s) => html`<div class="market-model" key=${s.model} data-testid="market-suggestion" data-model=${s.model}>
          <div class="btn-row between">
            <span><b class="mono">${s.model}</b> now <span class="mono" data-testid="market-current">${sats(s.currentPerJobMsats)}</span>, market ${sats(s.marketPerJobMsats)}, suggested <b class="mono" data-testid="market-suggested">${sats(s.perJobMsats)}</b></span>
            <span class="btn-row">
              <button class="btn btn-sm" data-testid="market-use-suggested" disabled=${pricing.busy || s.perJobMsats === s.currentPerJobMsats} onClick=${() => void useSuggested(s)}>USE SUGGESTED</button>
              <${BenchButton} model=${s.model} bench=${bench} testid="market-benchmark" />
            </span>
          </div>
          <p class="note" data-testid="market-reason">${s.reason}</p>
          <${BenchFigures} model=${s.model} bench=${bench} testid="market-bench" />
        </div>`,
      )}
      ${current.floorMsats ? html`<p class="note" data-testid="market-floor">Your floor: ${sats(current.floorMsats)} per job.</p>` : null}
    `;
  }
  return html`<${Panel} title="MARKET" testid="market-panel" actions=${html`<span class="count mono">7 DAYS</span>`}>${body}<//>`;
}

/**
 * SETTINGS › PRICING: the market's price next to the current one, the suggestion and its reason;
 * USE SUGGESTED fills the per-job field (saved, as every setting, only with SAVE). The dialog reads
 * the market afresh before it shows its form, so the hint is there from the form's first frame.
 */
export function MarketPriceHint(props: { onUse: (perJobSats: string) => void }) {
  useMarketFeed();
  const s = marketSuggestions.value[0];
  if (!s) return null;
  return html`<div class="market-hint note" data-testid="settings-market-hint">
    <span>Market for <b class="mono">${s.model}</b>: ${sats(s.marketPerJobMsats)}/job · yours ${sats(s.currentPerJobMsats)} · suggested <b class="mono">${sats(s.perJobMsats)}</b>. ${s.reason}</span>
    <button type="button" class="btn btn-sm" data-testid="settings-use-suggested" onClick=${() => props.onUse(String(s.perJobMsats / 1000))}>USE SUGGESTED</button>
  </div>`;
}
