// The customers' side of the dispatch benchmark: several keys, one websocket each, signing kind
// 5050 requests ahead of time and timing, per job, request sent → first "processing" 7000 and
// request sent → 6050 result, as seen by the customer (NIP-90 replies carry an e tag with the
// request id and a p tag with the customer). Built from nostr-tools only, never from product code.
import { AbstractRelay } from "nostr-tools/abstract-relay";
import { finalizeEvent, generateSecretKey, getPublicKey, type Event } from "nostr-tools/pure";

export interface JobTiming {
  sentAt: number;
  processingAt: number | null;
  resultAt: number | null;
  error: string | null;
  /** When the relay had handled the request / the processing feedback / the result (relay clock = ours). */
  relayRequestAt: number | null;
  relayProcessingAt: number | null;
  relayResultAt: number | null;
}

export interface PhaseResult {
  jobs: number;
  results: number;
  errors: number;
  /** request → processing feedback, ms, one per job that got one. */
  processingMs: number[];
  /** request → result, ms. */
  resultMs: number[];
  /**
   * Relay done with the request → relay done with the processing feedback, ms: the responder's
   * turnaround plus the relay's handling of one event, without the customer's legs.
   */
  turnaroundMs: number[];
  /** first send → last result, s. */
  wallS: number;
  /** results / wallS. */
  jobsPerSec: number;
  firstError: string | null;
}

interface Customer {
  sk: Uint8Array;
  pk: string;
  relay: AbstractRelay;
}

export interface RunOptions {
  /** Send the next request only when one of the last `inFlight` has its result or error (a window). */
  inFlight?: number;
}

export class Customers {
  private readonly timings = new Map<string, JobTiming>();
  private waiter: { ids: Set<string>; resolve: () => void } | null = null;
  /** Called once per job when its result or error feedback arrives (the in-flight window). */
  private onDone: (() => void) | null = null;
  /** Makes every request unique: two batches signed in the same second must not share ids. */
  private serial = 0;
  /** Round-robin position over the keys, kept across batches (a new batch starts with the next key). */
  private nextKey = 0;

  private constructor(
    private readonly list: Customer[],
    private readonly relayUrl: string,
  ) {}

  /**
   * `count` customer keys. With `connections` (default: one per key) fewer websockets carry them:
   * key i talks over connection i mod connections, which subscribes to the replies of all its keys.
   */
  static async start(relayUrl: string, count: number, connections = count): Promise<Customers> {
    const list: Customer[] = [];
    const self: Customers = new Customers(list, relayUrl);
    const sockets: AbstractRelay[] = [];
    const keysOf: string[][] = [];
    const n = Math.max(1, Math.min(count, connections));
    for (let i = 0; i < n; i++) {
      // The customer is the measuring instrument: it skips signature checks so its own CPU use
      // (same process as the relay) stays small and equal for every responder measured.
      const relay = new AbstractRelay(relayUrl, { verifyEvent: () => true });
      await relay.connect();
      sockets.push(relay);
      keysOf.push([]);
    }
    for (let i = 0; i < count; i++) {
      const sk = generateSecretKey();
      const pk = getPublicKey(sk);
      list.push({ sk, pk, relay: sockets[i % n]! });
      keysOf[i % n]!.push(pk);
    }
    for (let i = 0; i < n; i++) {
      sockets[i]!.subscribe([{ kinds: [7000, 6050], "#p": keysOf[i]!, since: Math.floor(Date.now() / 1000) - 5 }], {
        onevent: (e) => self.onReply(e),
      });
    }
    return self;
  }

  private onReply(e: Event): void {
    const at = performance.now();
    const id = e.tags.find((t) => t[0] === "e")?.[1];
    const job = id ? this.timings.get(id) : undefined;
    if (!job) return;
    if (e.kind === 7000) {
      const status = e.tags.find((t) => t[0] === "status");
      if (status?.[1] === "processing") job.processingAt ??= at;
      else if (status?.[1] === "error") job.error ??= status[2] ?? "error";
    } else if (e.kind === 6050) {
      job.resultAt ??= at;
    }
    if ((job.resultAt !== null || job.error !== null) && this.waiter?.ids.delete(id!)) {
      this.onDone?.();
      if (this.waiter?.ids.size === 0) this.waiter.resolve();
    }
  }

  /** Feed of every event the relay handled (TestRelay.onEvent), to time the responder alone. */
  relaySaw(e: Event): void {
    const at = performance.now();
    const id = e.kind === 5050 ? e.id : e.tags.find((t) => t[0] === "e")?.[1];
    const job = id ? this.timings.get(id) : undefined;
    if (!job) return;
    if (e.kind === 5050) job.relayRequestAt ??= at;
    else if (e.kind === 7000 && e.tags.some((t) => t[0] === "status" && t[1] === "processing")) job.relayProcessingAt ??= at;
    else if (e.kind === 6050) job.relayResultAt ??= at;
  }

  /** Signs `n` requests round-robin over the customers (done before timing starts). */
  sign(n: number, providerPubkey: string): { event: Event; by: Customer }[] {
    const out: { event: Event; by: Customer }[] = [];
    const now = Math.floor(Date.now() / 1000);
    for (let i = 0; i < n; i++) {
      const by = this.list[this.nextKey++ % this.list.length]!;
      const tags = [
        ["i", `What is ${this.serial++} plus one?`, "text"],
        ["param", "max_tokens", "32"],
        ["relays", this.relayUrl],
        ["p", providerPubkey],
      ];
      out.push({ event: finalizeEvent({ kind: 5050, created_at: now, tags, content: "" }, by.sk), by });
    }
    return out;
  }

  /**
   * Sends the signed requests, `ratePerSec` apart (null: all at once, or `opts.inFlight` at a time),
   * then waits until each has a result or an error feedback, or `timeoutMs` passes.
   */
  async run(batch: { event: Event; by: Customer }[], ratePerSec: number | null, timeoutMs: number, opts: RunOptions = {}): Promise<PhaseResult> {
    const ids = new Set(batch.map((b) => b.event.id));
    const done = new Promise<void>((resolve) => (this.waiter = { ids: new Set(ids), resolve }));
    const start = performance.now();
    const send = (i: number) => {
      const { event, by } = batch[i]!;
      this.timings.set(event.id, {
        sentAt: performance.now(),
        processingAt: null,
        resultAt: null,
        error: null,
        relayRequestAt: null,
        relayProcessingAt: null,
        relayResultAt: null,
      });
      by.relay.publish(event).catch(() => {});
    };
    if (opts.inFlight && !ratePerSec) {
      let next = 0;
      this.onDone = () => {
        if (next < batch.length) send(next++);
      };
      while (next < Math.min(opts.inFlight, batch.length)) send(next++);
    } else {
      for (let i = 0; i < batch.length; i++) {
        if (ratePerSec) {
          // A fixed schedule (not a sleep after each send) so jitter does not add up.
          const wait = start + (i * 1000) / ratePerSec - performance.now();
          if (wait > 0.5) await Bun.sleep(wait);
        }
        send(i);
      }
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([done, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    this.waiter = null;
    this.onDone = null;

    // A job never sent (the window stalled until the timeout) counts as sent and unanswered.
    const jobs = batch.map((b) => this.timings.get(b.event.id) ?? { sentAt: start, processingAt: null, resultAt: null, error: "not sent (timeout)", relayRequestAt: null, relayProcessingAt: null, relayResultAt: null });
    const processingMs = jobs.filter((j) => j.processingAt !== null).map((j) => j.processingAt! - j.sentAt);
    const resultMs = jobs.filter((j) => j.resultAt !== null).map((j) => j.resultAt! - j.sentAt);
    const turnaroundMs = jobs.filter((j) => j.relayRequestAt !== null && j.relayProcessingAt !== null).map((j) => j.relayProcessingAt! - j.relayRequestAt!);
    const firstSent = Math.min(...jobs.map((j) => j.sentAt));
    const lastResult = Math.max(...jobs.map((j) => j.resultAt ?? -Infinity));
    const wallS = resultMs.length ? (lastResult - firstSent) / 1000 : NaN;
    const errors = jobs.filter((j) => j.error !== null);
    return {
      jobs: jobs.length,
      results: resultMs.length,
      errors: errors.length,
      processingMs,
      resultMs,
      turnaroundMs,
      wallS,
      jobsPerSec: resultMs.length / wallS,
      firstError: errors[0]?.error ?? null,
    };
  }

  close(): void {
    for (const relay of new Set(this.list.map((c) => c.relay))) {
      try {
        relay.close();
      } catch {}
    }
  }
}
