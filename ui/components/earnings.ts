// EARNINGS: today, the last 7 days, all time, and a 14-day bar chart.
import { html } from "htm/preact";
import { barHeights, dayOfMonth, formatInt } from "../format.ts";
import { earnings } from "../state.ts";
import { Panel } from "./kit.ts";

const CHART_W = 280;
const CHART_H = 64;

function Chart(props: { days: { date: string; sats: number; jobs: number }[] }) {
  const days = props.days;
  if (!days.length) return null;
  const heights = barHeights(days.map((d) => d.sats), CHART_H);
  const slot = CHART_W / days.length;
  const bar = Math.max(2, slot * 0.62);
  const max = Math.max(...days.map((d) => d.sats));
  return html`<figure class="chart" data-testid="earnings-chart">
    <svg viewBox=${`0 0 ${CHART_W} ${CHART_H + 14}`} preserveAspectRatio="none" role="img" aria-label=${`Sats earned per day over the last ${days.length} days; most in a day: ${formatInt(max)}`}>
      <line class="chart-axis" x1="0" x2=${CHART_W} y1=${CHART_H + 0.5} y2=${CHART_H + 0.5} />
      ${days.map((d, i) => {
        const h = heights[i]!;
        const x = i * slot + (slot - bar) / 2;
        const today = i === days.length - 1;
        return html`<g key=${d.date} data-testid="earnings-bar" data-date=${d.date} data-sats=${d.sats}>
          <title>${d.date}: ${formatInt(d.sats)} sats, ${d.jobs} job${d.jobs === 1 ? "" : "s"}</title>
          <rect class="chart-slot" x=${i * slot} y="0" width=${slot} height=${CHART_H} />
          <rect class=${`chart-bar${today ? " today" : ""}`} x=${x} y=${CHART_H - h} width=${bar} height=${h} />
          ${h === 0 ? html`<rect class="chart-zero" x=${x} y=${CHART_H - 1} width=${bar} height="1" />` : null}
        </g>`;
      })}
    </svg>
    <div class="chart-labels" aria-hidden="true">
      ${days.map((d, i) => html`<span key=${d.date} class=${i % 2 === (days.length - 1) % 2 ? "" : "faint"}>${dayOfMonth(d.date)}</span>`)}
    </div>
    <figcaption class="chart-cap">
      <span>${days.length} DAYS</span><span>PEAK <b class="mono">${formatInt(max)}</b> sats</span>
    </figcaption>
  </figure>`;
}

export function EarningsPanel() {
  const e = earnings.value;
  const top = [...e.byModel].sort((a, b) => b.sats - a.sats).slice(0, 3);
  return html`<${Panel} title="EARNINGS" testid="earnings-panel" actions=${html`<span class="count mono">IN SATS</span>`}>
    <div class="stats">
      <div class="stat">
        <span class="stat-label">TODAY</span>
        <b class="stat-figure" data-testid="earnings-today">${formatInt(e.todaySats)}</b>
        <span class="stat-sub"><span data-testid="earnings-today-jobs">${formatInt(e.todayJobs)}</span> job${e.todayJobs === 1 ? "" : "s"}</span>
      </div>
      <div class="stat">
        <span class="stat-label">7 DAYS</span>
        <b class="stat-figure" data-testid="earnings-week">${formatInt(e.weekSats)}</b>
        <span class="stat-sub"><span data-testid="earnings-week-jobs">${formatInt(e.weekJobs)}</span> job${e.weekJobs === 1 ? "" : "s"}</span>
      </div>
      <div class="stat">
        <span class="stat-label">ALL TIME</span>
        <b class="stat-figure" data-testid="earnings-all">${formatInt(e.allSats)}</b>
        <span class="stat-sub">${formatInt(e.allJobs)} job${e.allJobs === 1 ? "" : "s"}</span>
      </div>
    </div>
    ${(e.unpaidJobs ?? 0) > 0 || (e.paidLateNotServed ?? 0) > 0
      ? html`<p class="stat-sub" data-testid="earnings-unpaid">
          ${(e.unpaidJobs ?? 0) > 0 ? html`UNPAID <b class="mono">${formatInt(e.unpaidSats ?? 0)}</b> sats · ${e.unpaidJobs} pay-after job${e.unpaidJobs === 1 ? "" : "s"}` : null}
          ${(e.unpaidJobs ?? 0) > 0 && (e.paidLateNotServed ?? 0) > 0 ? " · " : null}
          ${(e.paidLateNotServed ?? 0) > 0 ? html`<span title="Payments that came after their job had expired or was cancelled, and could not be run: see the wallet's history">PAID LATE, NOT SERVED <b class="mono">${e.paidLateNotServed}</b></span>` : null}
        </p>`
      : null}
    <${Chart} days=${e.days} />
    ${top.length
      ? html`<ul class="by-model" aria-label="Earnings by model">
          ${top.map((m) => html`<li key=${m.model}><span class="mono ellipsis">${m.model}</span><span class="mono">${formatInt(m.sats)} sats · ${m.jobs}</span></li>`)}
        </ul>`
      : null}
  <//>`;
}
