// NIP-09 cancellations of the jobs we hold: one kind 5 subscription on their ids, reopened
// sparingly (public relays rate-limit REQs). The engine decides what a deletion stops.
import { DELETION } from "../nostr/kinds.ts";
import type { NostrEvent } from "../nostr/nip90.ts";
import type { EnginePool } from "./ports.ts";

/** How long changes to the set of held jobs are gathered before the cancel watch is updated. */
const CANCEL_WATCH_EVERY_MS = 250;

export interface CancelWatchDeps {
  pool: Pick<EnginePool, "subscribe">;
  /** The jobs held now (queued, waiting for payment or running). */
  held(): Iterable<{ id: string; request: { createdAt: number } }>;
  isStopped(): boolean;
  onDeletion(event: NostrEvent): void;
}

/**
 * Keeps one subscription for kind 5 events that e-tag a job we hold (queued, waiting for payment
 * or running). Customers' clients differ in what else they tag (k, p), so the job id is the one
 * thing to match on. Every REQ costs the relay a stored query and public relays rate-limit them,
 * so changes are gathered for CANCEL_WATCH_EVERY_MS and the subscription is only reopened when
 * a job joins the set: ids of jobs that ended ride along until then, and a job over within the
 * window needs no REQ at all. Closed when no job is held. A kind 5 sent before our REQ is still
 * found: the relay has stored it, and `since` reaches back past it.
 */
export class CancelWatch {
  /** The subscription on the ids of the jobs we hold. */
  private cancelSub: { close(): void } | null = null;
  /** The job ids cancelSub covers (it may still name jobs that have ended since). */
  private cancelWatchIds = new Set<string>();
  private cancelWatchTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly deps: CancelWatchDeps) {}

  /** The set of held jobs changed: the watch follows within CANCEL_WATCH_EVERY_MS. */
  schedule(): void {
    if (this.cancelWatchTimer || this.deps.isStopped()) return;
    this.cancelWatchTimer = setTimeout(() => {
      this.cancelWatchTimer = null;
      this.update();
    }, CANCEL_WATCH_EVERY_MS);
  }

  private update(): void {
    if (this.deps.isStopped()) return;
    const jobs = [...this.deps.held()];
    if (jobs.length === 0) {
      this.cancelSub?.close();
      this.cancelSub = null;
      this.cancelWatchIds.clear();
      return;
    }
    if (this.cancelSub && jobs.every((j) => this.cancelWatchIds.has(j.id))) return;
    const ids = jobs.map((j) => j.id);
    // The customer's clock, like its deletion's: the oldest request minus a margin.
    let since = Infinity;
    for (const j of jobs) since = Math.min(since, j.request.createdAt);
    this.cancelSub?.close();
    this.cancelWatchIds = new Set(ids);
    this.cancelSub = this.deps.pool.subscribe([{ kinds: [DELETION], "#e": ids, since: since - 60 }], {
      onEvent: (ev) => this.deps.onDeletion(ev),
    });
  }

  stop(): void {
    if (this.cancelWatchTimer) clearTimeout(this.cancelWatchTimer);
    this.cancelWatchTimer = null;
    this.cancelSub?.close();
    this.cancelSub = null;
    this.cancelWatchIds.clear();
  }
}
