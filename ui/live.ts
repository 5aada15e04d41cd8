// Wires the stream to the state signals: one Sync, one EventSource, and `refresh()` for the
// commands that want the snapshot re-read (unlock, create) without waiting for an event.
import { ApiError, connectStream, errorText, getState } from "./api.ts";
import { connection, loadError, Sync, ui, type UiState } from "./state.ts";

let sync: Sync | null = null;
/** How long after a job's success the snapshot is re-read (lets several completions share one fetch). */
const EARNINGS_REREAD_MS = 250;
let retryTimer: ReturnType<typeof setTimeout> | undefined;

// Token streams can send many events a second: render at most once per frame.
let pending: UiState | null = null;
let scheduled = false;
function publish(state: UiState | null): void {
  pending = state;
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(() => {
    scheduled = false;
    ui.value = pending;
    loadError.value = null;
  });
}

export function startLive(): () => void {
  sync = new Sync(getState, publish, (err) => {
    if (err instanceof ApiError && err.status === 401) {
      // Opened without a valid session (no ?token=, or the app restarted): only a new link helps.
      connection.value = "unauthorized";
      return;
    }
    // Without a first snapshot there is nothing to show: say why, and keep trying.
    if (!ui.value) loadError.value = errorText(err);
    clearTimeout(retryTimer);
    retryTimer = setTimeout(() => void sync?.resync(), 3_000);
  });
  const s = sync;
  // Today's job count moves when a job succeeds, but the server only streams new earnings when a
  // payment is credited (free jobs, and the success after an upfront payment, send none): re-read
  // the snapshot shortly after a success. Coalesced, so a burst of completions costs one fetch.
  let earningsTimer: ReturnType<typeof setTimeout> | undefined;
  const earningsStale = () => {
    if (earningsTimer !== undefined) return;
    earningsTimer = setTimeout(() => {
      earningsTimer = undefined;
      void s.resync();
    }, EARNINGS_REREAD_MS);
  };
  const stop = connectStream({
    onEvent: (ev) => {
      s.handle(ev);
      if (ev.type === "job.status.changed" && ev.properties.job.status === "success") earningsStale();
    },
    onStatus: (status) => {
      connection.value = status;
    },
  });
  // Don't wait for server.connected to show something: fetch the snapshot at once as well.
  void s.resync();
  return () => {
    stop();
    clearTimeout(retryTimer);
    clearTimeout(earningsTimer);
  };
}

export function refresh(): Promise<void> {
  return sync ? sync.resync() : Promise.resolve();
}
