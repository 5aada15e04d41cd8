// ACTIVE JOBS: what runs now (live tokens and tokens/s) and what finished lately.
import { html } from "htm/preact";
import { useAction } from "../action.ts";
import { cancelJob } from "../api.ts";
import { formatAgo, formatInt, formatMsats, formatTps, jobLabel, jobTone, shortId } from "../format.ts";
import { activeJobs, finishedJobs, isActive, jobs, previews, provider, relaysUp, type JobView } from "../state.ts";
import { Empty, Light, Panel } from "./kit.ts";

/** Shown below the active ones; the snapshot keeps more, the panel keeps its height. */
const RECENT_SHOWN = 8;

function LockIcon() {
  return html`<svg class="lock-icon" viewBox="0 0 12 12" width="10" height="10" role="img" aria-label="encrypted">
    <title>Encrypted request</title>
    <rect x="2" y="5.5" width="8" height="5.5" rx="1" fill="currentColor" />
    <path d="M4 5.5V4a2 2 0 0 1 4 0v1.5" fill="none" stroke="currentColor" stroke-width="1.3" />
  </svg>`;
}

function JobRow(props: { job: JobView; preview: string | undefined; now: number }) {
  const j = props.job;
  const cancelling = useAction({ errors: "toast" });
  const active = isActive(j.status);
  const running = j.status === "processing";
  return html`<li class=${`job${active ? " active" : ""}${running ? " running" : ""}`} data-testid="job-row" data-job-id=${j.id} data-status=${j.status}>
    <div class="job-id">
      <code title=${j.id}>${shortId(j.id)}</code>
      <span class="job-kind" title="Nostr event kind (NIP-90)">${j.kind}${j.encrypted ? html` <${LockIcon} />` : null}</span>
    </div>
    <div class="job-model ellipsis" title=${j.model ?? ""}>${j.model ?? "—"}</div>
    <div class="job-status" data-testid="job-status" title=${j.error ?? ""}>
      <${Light} tone=${jobTone(j.status)} pulse=${running} />
      <span>${jobLabel(j.status)}</span>
    </div>
    <div class="job-num" title="Tokens generated"><b data-testid="job-tokens">${formatInt(j.tokens)}</b><small>tok</small></div>
    <div class="job-num" title="Tokens per second"><b data-testid="job-tps">${formatTps(j.tokensPerSec)}</b><small>t/s</small></div>
    <div class="job-num job-sats" title=${`${j.amountMsats === null ? "No charge" : "Price"} · ${formatAgo(j.updatedAt, props.now)}`} data-testid="job-sats">${j.amountMsats === null ? html`<span class="faint">—</span>` : html`<b>${formatMsats(j.amountMsats)}</b><small>sats</small>`}</div>
    <div class="job-act">
      ${active
        ? html`<button type="button" class="btn btn-ghost btn-sm btn-danger" disabled=${cancelling.busy} data-testid="job-cancel" aria-label=${`Cancel job ${shortId(j.id)}`} onClick=${() => cancelling.run(() => cancelJob(j.id))}>
            CANCEL
          </button>`
        : null}
    </div>
    ${running && props.preview
      ? html`<p class=${`job-preview${props.preview.length > 50 ? " job-stream" : ""}`} data-testid="job-preview"><span>${props.preview.slice(-240)}<span class="caret" aria-hidden="true">▌</span></span></p>`
      : j.status === "error" && j.error
        ? html`<p class="job-preview job-error">${j.error}</p>`
        : null}
  </li>`;
}

export function JobsPanel() {
  const p = provider.value;
  const active = activeJobs.value;
  const recent = finishedJobs.value.slice(0, RECENT_SHOWN);
  const shown = previews.value;
  const now = Date.now();
  const connected = relaysUp.value;

  let empty = null;
  if (!jobs.value.length) {
    empty = p.online
      ? html`<${Empty} title="Waiting for the first request" testid="jobs-empty">
          Listening on ${connected} relay${connected === 1 ? "" : "s"}. Customers' kind 5050 requests show up here as they arrive.
        <//>`
      : p.blockers.length
        ? html`<${Empty} title="No jobs yet" testid="jobs-empty">Clear the checklist under PROVIDER, then go online to start taking text-generation jobs from Nostr.<//>`
        : html`<${Empty} title="No jobs yet" testid="jobs-empty">Press GO ONLINE to start taking text-generation jobs from Nostr.<//>`;
  }

  return html`<${Panel}
    title="ACTIVE JOBS"
    testid="jobs-panel"
    class="panel-jobs"
    actions=${html`<span class="count mono" data-testid="jobs-active-count">${active.length} active</span>`}
  >
    ${empty ??
    html`<div class="jobs-head" aria-hidden="true">
        <span>ID · KIND</span><span>MODEL</span><span>STATUS</span><span class="r">TOKENS</span><span class="r">SPEED</span><span class="r">SATS</span><span></span>
      </div>
      <ul class="jobs" aria-label="Jobs" tabindex="0">
        ${active.map((j) => html`<${JobRow} key=${j.id} job=${j} preview=${shown[j.id]} now=${now} />`)}
        ${active.length === 0 ? html`<li class="jobs-idle">No job running${p.online ? ": waiting for requests" : ""}.</li>` : null}
        ${recent.length ? html`<li class="jobs-divider" aria-hidden="true"><span>RECENT</span></li>` : null}
        ${recent.map((j) => html`<${JobRow} key=${j.id} job=${j} preview=${undefined} now=${now} />`)}
      </ul>`}
  <//>`;
}
