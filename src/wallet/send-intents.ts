// One intent to pay can never pay twice. A send whose outcome is unknown (a network error, a
// timeout, an error the wallet can't explain) may still have paid: the wallet keeps its quote and
// the quote's id, which is the send's idempotency key (Breez SDK `idempotencyKey`: a second send
// with the same key returns the payment the first made). This keeps the *intent* too: preparing
// the same destination and amount again while such a send is unresolved returns that same quote,
// so a person who retries (`compute wallet send` run again, SEND pressed again) reuses the key.
// A send that is still `pending` is held the same way until a retry sees it finish.
// Unresolved intents are kept in a small file (`file`), so a retry after a restart still sends
// with the first try's key: the wallet makes a new quote under that key (the SDK keeps its
// payments in its own storage, so it still finds what the first try paid).
import { existsSync, readFileSync } from "node:fs";
import { z } from "zod";
import { AppError } from "../errors.ts";
import { createLogger } from "../log.ts";
import { atomicWriteFile } from "../util/atomic.ts";
import type { PreparedSend, PrepareSendRequest, SentPayment, Wallet } from "./wallet.ts";

const log = createLogger("wallet");

/** How long an unresolved intent is held: long after any send could still be in flight. */
const HOLD_MS = 24 * 3600_000;
/** Bound on the intents held (each is one person's unresolved send: few). */
const MAX_HELD = 1000;

export interface SendQuote extends PreparedSend {
  /** True when this is the quote of an earlier send of the same intent whose outcome is not known. */
  retry: boolean;
}

/** Failures that say the money did not leave: the quote can go. Anything else may have paid. */
export function isDefiniteSendFailure(err: unknown): boolean {
  return err instanceof AppError && (err.code === "invalid_input" || err.code === "not_found" || err.code === "unauthorized" || err.code === "locked");
}

function intentKey(destination: string, amountSats: number | undefined): string {
  return `${destination.trim()}\n${amountSats ?? ""}`;
}

interface Held {
  /** The quote id: the idempotency key of every send of this intent. */
  id: string;
  key: string;
  since: number;
  /** A send with this key was tried (and its outcome is not known, or it is pending). */
  tried: boolean;
  /** The wallet's quote; null for an intent read back from the file (the wallet has no quote for it yet). */
  quote: PreparedSend | null;
}

/** The file: unresolved intents only (what a retry after a restart needs). */
const IntentsFile = z.object({
  version: z.literal(1),
  intents: z
    .array(z.object({ id: z.string().regex(/^[0-9a-f-]{36}$/i), key: z.string().min(1).max(5000), since: z.number().int().nonnegative() }))
    .max(MAX_HELD),
});

export interface SendIntentsOptions {
  /** Where unresolved intents are kept across restarts; none: only in memory. */
  file?: string;
  now?: () => number;
}

export class SendIntents {
  private readonly byId = new Map<string, Held>();
  private readonly byIntent = new Map<string, Held>();
  private readonly now: () => number;

  constructor(
    private readonly wallet: Wallet,
    private readonly opts: SendIntentsOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.load();
  }

  /** A quote for this destination and amount: the unresolved one of the same intent, if any. */
  async prepare(req: PrepareSendRequest): Promise<SendQuote> {
    this.prune();
    const key = intentKey(req.destination, req.amountSats);
    const held = this.byIntent.get(key);
    if (held?.tried) {
      // Read back after a restart: a fresh quote under the first try's key.
      held.quote ??= await this.wallet.prepareSend(req, { idempotencyKey: held.id });
      return { ...held.quote, retry: true };
    }
    const quote = await this.wallet.prepareSend(req);
    const entry: Held = { id: quote.id, key, since: this.now(), tried: false, quote };
    this.byId.set(quote.id, entry);
    // An untried quote of the same intent is simply replaced by the newer one.
    if (held) this.byId.delete(held.id);
    this.byIntent.set(key, entry);
    return { ...quote, retry: false };
  }

  /** Sends a quote; an unknown outcome keeps it (and its key) for the retry, and says so. */
  async send(id: string): Promise<SentPayment> {
    const held = this.byId.get(id);
    const triedBefore = held?.tried ?? false;
    let sent: SentPayment;
    try {
      if (held && !held.tried) {
        // Written before the money can move: a crash mid-send still leaves the key for the retry.
        held.tried = true;
        held.since = this.now();
        this.save();
      }
      sent = await this.wallet.send(id);
    } catch (err) {
      // After an earlier try whose outcome was not known, even a clear refusal (the quote is
      // stale, the funds are gone) may be the earlier payment's doing: the intent stays held.
      if (!held || (!triedBefore && isDefiniteSendFailure(err))) {
        if (held) this.forget(held);
        throw err;
      }
      const why = err instanceof Error ? err.message.replace(/\.$/, "") : String(err);
      throw new AppError(
        "unavailable",
        `The payment may or may not have gone through (${why}). Check the wallet's history; sending it again reuses the same payment key, so it can't pay twice.`,
      );
    }
    if (held) {
      // Still in flight: hold the intent, so sending it again finds this payment, not a new one.
      if (sent.status === "pending") held.since = this.now();
      else this.forget(held);
    }
    return sent;
  }

  private forget(held: Held): void {
    this.byId.delete(held.id);
    if (this.byIntent.get(held.key) === held) this.byIntent.delete(held.key);
    if (held.tried) this.save();
  }

  private prune(): void {
    const t = this.now();
    for (const held of [...this.byId.values()]) {
      // Untried quotes go with their expiry; tried ones are held for HOLD_MS.
      if (held.tried ? t - held.since > HOLD_MS : (held.quote?.expiresAt ?? 0) < t) this.forget(held);
    }
    while (this.byId.size > MAX_HELD) this.forget(this.byId.values().next().value!);
  }

  private load(): void {
    const file = this.opts.file;
    if (!file || !existsSync(file)) return;
    try {
      const data = IntentsFile.parse(JSON.parse(readFileSync(file, "utf8")));
      for (const i of data.intents) {
        const held: Held = { id: i.id, key: i.key, since: i.since, tried: true, quote: null };
        this.byId.set(i.id, held);
        this.byIntent.set(i.key, held);
      }
    } catch (err) {
      log.warn("the file of unresolved sends is unreadable; starting without it", { file, err: err instanceof Error ? err.message : String(err) });
    }
  }

  private save(): void {
    const file = this.opts.file;
    if (!file) return;
    const intents = [...this.byId.values()].filter((h) => h.tried).map((h) => ({ id: h.id, key: h.key, since: h.since }));
    atomicWriteFile(file, JSON.stringify({ version: 1, intents }) + "\n", 0o600);
  }
}
