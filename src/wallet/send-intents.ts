// One intent to pay can never pay twice. A send whose outcome is unknown (a network error, a
// timeout, an error the wallet can't explain) may still have paid: the wallet keeps its quote and
// the quote's id, which is the send's idempotency key (Breez SDK `idempotencyKey`: a second send
// with the same key returns the payment the first made). This keeps the *intent* too: preparing
// the same destination and amount again while such a send is unresolved returns that same quote,
// so a person who retries (`compute wallet send` run again, SEND pressed again) reuses the key.
// A send that is still `pending` is held the same way until a retry sees it finish.
import { AppError } from "../errors.ts";
import type { PreparedSend, PrepareSendRequest, SentPayment, Wallet } from "./wallet.ts";

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
  quote: PreparedSend;
  key: string;
  since: number;
  /** A send with this quote was tried (and its outcome is not known, or it is pending). */
  tried: boolean;
}

export class SendIntents {
  private readonly byId = new Map<string, Held>();
  private readonly byIntent = new Map<string, Held>();

  constructor(
    private readonly wallet: Wallet,
    private readonly now: () => number = Date.now,
  ) {}

  /** A quote for this destination and amount: the unresolved one of the same intent, if any. */
  async prepare(req: PrepareSendRequest): Promise<SendQuote> {
    this.prune();
    const key = intentKey(req.destination, req.amountSats);
    const held = this.byIntent.get(key);
    if (held?.tried) return { ...held.quote, retry: true };
    const quote = await this.wallet.prepareSend(req);
    const entry: Held = { quote, key, since: this.now(), tried: false };
    this.byId.set(quote.id, entry);
    // An untried quote of the same intent is simply replaced by the newer one.
    if (!held) this.byIntent.set(key, entry);
    else if (!held.tried) {
      this.byId.delete(held.quote.id);
      this.byIntent.set(key, entry);
    }
    return { ...quote, retry: false };
  }

  /** Sends a quote; an unknown outcome keeps it (and its key) for the retry, and says so. */
  async send(id: string): Promise<SentPayment> {
    const held = this.byId.get(id);
    const triedBefore = held?.tried ?? false;
    let sent: SentPayment;
    try {
      if (held) held.tried = true;
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
    this.byId.delete(held.quote.id);
    if (this.byIntent.get(held.key) === held) this.byIntent.delete(held.key);
  }

  private prune(): void {
    const t = this.now();
    for (const held of this.byId.values()) {
      // Untried quotes go with their expiry; tried ones are held for HOLD_MS.
      if (held.tried ? t - held.since > HOLD_MS : held.quote.expiresAt < t) this.forget(held);
    }
    while (this.byId.size > MAX_HELD) this.forget(this.byId.values().next().value!);
  }
}
