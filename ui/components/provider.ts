// GO ONLINE: the one switch that announces this machine on the relays (NIP-89) and starts taking
// kind 5050 jobs, with the reasons it can't when it can't.
import { html } from "htm/preact";
import { useAction } from "../action.ts";
import { setOnline } from "../api.ts";
import { formatMsats } from "../format.ts";
import { activeCount, provider, relaysUp, servedCount } from "../state.ts";
import { openDialog } from "./dialogs.ts";
import { Light, Panel, Spinner } from "./kit.ts";

const MODE_TEXT = { upfront: "Paid up front", after: "Paid after delivery", free: "Free" } as const;

/** Today's use against the daily limits (SETTINGS › SCHEDULE): "3/20 jobs · 120 sats · 0.5/4 h GPU". */
export function todayText(t: { jobs: number; sats: number; gpuMs: number; maxJobs: number | null; maxSats: number | null; maxGpuHours: number | null }): string {
  const of = (max: number | null) => (max === null ? "" : `/${max.toLocaleString("en-US")}`);
  const hours = t.gpuMs / 3_600_000;
  return `${t.jobs}${of(t.maxJobs)} jobs · ${Math.floor(t.sats).toLocaleString("en-US")}${of(t.maxSats)} sats · ${hours < 10 ? hours.toFixed(1) : Math.round(hours)}${of(t.maxGpuHours)} h GPU`;
}

export function ProviderPanel() {
  const p = provider.value;
  const switching = useAction({ errors: "toast" });
  const pending = switching.busy;
  const connected = relaysUp.value;
  const serving = servedCount.value;
  const active = activeCount.value;
  const blocked = !p.online && p.blockers.length > 0;
  // Online but every relay down: no request can reach us, so don't show the all-good green.
  const stranded = p.online && connected === 0;

  const toggle = () => switching.run(() => setOnline(!p.online));

  const price =
    p.paymentMode === "free"
      ? "no charge"
      : [p.perJobMsats > 0 ? `${formatMsats(p.perJobMsats)} sats/job` : null, p.per1kTokensMsats > 0 ? `${formatMsats(p.per1kTokensMsats)} sats/1k tok` : null]
          .filter(Boolean)
          .join(" + ") || "no price set";

  return html`<${Panel} title="PROVIDER" testid="provider-panel" class="panel-provider">
    <button
      type="button"
      role="switch"
      aria-checked=${p.online ? "true" : "false"}
      aria-describedby=${p.blockers.length ? "blockers" : undefined}
      class=${`online-toggle${p.online ? " is-online" : ""}${stranded ? " is-stranded" : ""}${blocked ? " is-blocked" : ""}`}
      data-testid="online-toggle"
      data-online=${p.online ? "true" : "false"}
      disabled=${pending || blocked}
      onClick=${toggle}
    >
      <span class="online-icon" aria-hidden="true">${pending ? html`<${Spinner} />` : html`<${Light} tone=${stranded ? "warn" : p.online ? "ok" : blocked ? "bad" : "idle"} pulse=${p.online} />`}</span>
      <span class="online-text">
        <span class="online-main" data-testid="online-state">${p.online ? "ONLINE" : "GO ONLINE"}${p.paused ? html` <span class="badge badge-warn" data-testid="paused-badge" title=${`paused: ${p.paused}`}>PAUSED</span>` : null}</span>
        <span class="online-sub">
          ${stranded
            ? "No relay connected: customers can't reach you until one is back"
            : p.online && p.paused
            ? html`<span data-testid="paused-reason">paused: ${p.paused}</span> · new customers are sent elsewhere`
            : p.online
            ? `Taking jobs on ${connected} relay${connected === 1 ? "" : "s"} · click to go offline`
            : blocked
              ? "Not ready yet: see below"
              : `${serving} model${serving === 1 ? "" : "s"} · ${connected} relay${connected === 1 ? "" : "s"} ready`}
        </span>
      </span>
    </button>
    ${p.blockers.length
      ? html`<ul class="blockers" id="blockers" data-testid="blockers">
          ${p.blockers.map((b) => html`<li data-testid="blocker">${b}</li>`)}
        </ul>`
      : null}
    <dl class="facts">
      <div>
        <dt>Pricing</dt>
        <dd>
          <span data-testid="pricing-summary">${MODE_TEXT[p.paymentMode]} · ${price}</span>
          <button type="button" class="link" onClick=${() => (openDialog.value = "settings")}>edit</button>
        </dd>
      </div>
      <div>
        <dt>Queue</dt>
        <dd class="mono">${active} active</dd>
      </div>
      ${p.today ? html`<div>
        <dt>Today</dt>
        <dd class="mono" data-testid="today-usage">${todayText(p.today)}</dd>
      </div>` : null}
      <div>
        <dt>Announced</dt>
        <dd class="mono" data-testid="announcement">${p.announcementId ? html`<span title=${p.announcementId}>${p.announcementId.slice(0, 12)}…</span>` : "not yet"}</dd>
      </div>
    </dl>
  <//>`;
}
