// The Spark wallet's send side: a fee quote per destination (prepare), then the send by quote. The
// quote id is the send's idempotency key, and a quote whose send may have paid is kept (up to
// IN_DOUBT_MS) so a retry reaches the SDK with the same key and can't pay twice.
import type * as Sdk from "@breeztech/breez-sdk-spark";
import { randomUUID } from "node:crypto";
import { AppError, errorMessage, issueText } from "../errors.ts";
import { createLogger } from "../log.ts";
import { toSafeInt } from "./spark-records.ts";
import { PrepareSendRequest, type DestinationType, type PreparedSend, type SentPayment } from "./wallet.ts";

const log = createLogger("wallet");

/** One SDK call as SparkWallet makes it: connected, bounded by a timeout, errors mapped to AppError. */
export type SdkCall = <T>(what: string, fn: (sdk: Sdk.BreezSdk) => Promise<T>, ms?: number) => Promise<T>;

export interface SparkSendOptions {
  quoteTtlMs: number;
  sendTimeoutMs: number;
  /** After a send the SDK accepted (the balance moved). */
  onSent: () => void;
}

interface PendingSend {
  quote: PreparedSend;
  kind: "payment" | "lnurl";
  payment?: Sdk.PrepareSendPaymentResponse;
  lnurl?: Sdk.PrepareLnurlPayResponse;
  options?: Sdk.SendPaymentOptions;
  /**
   * A send with this quote was tried and its outcome is not known (an ambiguous failure), or it
   * came back pending: kept past its expiry (up to IN_DOUBT_MS) so a retry reuses its idempotency key.
   */
  inDoubtSince?: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** How long a quote whose send may have paid stays retryable with its idempotency key. */
const IN_DOUBT_MS = 24 * 3600_000;

export class SparkSends {
  private readonly quotes = new Map<string, PendingSend>();

  constructor(
    private readonly call: SdkCall,
    private readonly opts: SparkSendOptions,
  ) {}

  /** On disconnect. Quotes whose send may have paid survive a reconnect: a retry must reuse their idempotency key. */
  dropSettled(): void {
    for (const [id, q] of this.quotes) if (q.inDoubtSince === undefined) this.quotes.delete(id);
  }

  async prepare(req: PrepareSendRequest, opts: { idempotencyKey?: string } = {}): Promise<PreparedSend> {
    if (opts.idempotencyKey !== undefined && !UUID.test(opts.idempotencyKey)) throw new AppError("invalid_input", "An idempotency key is a UUID.");
    const checked = PrepareSendRequest.safeParse(req);
    if (!checked.success) throw new AppError("invalid_input", `Bad send request: ${issueText(checked.error, { root: "request" })}`);
    const { destination, amountSats } = checked.data;
    this.prune();
    const parsed = await this.call("Reading the destination", (sdk) => sdk.parse(destination));
    // An earlier, unresolved send's key: the SDK answers a send with it by the payment it made.
    const id = opts.idempotencyKey ?? randomUUID();
    const expiresAt = Date.now() + this.opts.quoteTtlMs;
    const needAmount = () => {
      if (amountSats === undefined) throw new AppError("invalid_input", "Enter an amount in sats for this destination.");
      return amountSats;
    };
    let pending: PendingSend;
    switch (parsed.type) {
      case "lightningAddress":
      case "lnurlPay": {
        const payRequest = parsed.type === "lightningAddress" ? parsed.payRequest : parsed;
        const amount = needAmount();
        const min = toSafeInt(payRequest.minSendable, "minSendable");
        const max = toSafeInt(payRequest.maxSendable, "maxSendable");
        if (amount * 1000 < min || amount * 1000 > max) {
          throw new AppError("invalid_input", `This recipient accepts ${Math.ceil(min / 1000)}–${Math.floor(max / 1000)} sats.`);
        }
        const lnurl = await this.call("Getting a fee quote", (sdk) => sdk.prepareLnurlPay({ amount: BigInt(amount), payRequest }));
        const type: DestinationType = parsed.type === "lightningAddress" ? "lightning_address" : "lnurl_pay";
        pending = {
          kind: "lnurl",
          lnurl,
          quote: { id, destination, destinationType: type, amountSats: toSafeInt(lnurl.amountSats, "amount"), feeSats: toSafeInt(lnurl.feeSats, "fee"), expiresAt },
        };
        break;
      }
      case "bolt11Invoice":
      case "bitcoinAddress":
      case "sparkAddress": {
        let amount: bigint | undefined;
        if (parsed.type === "bolt11Invoice" && parsed.amountMsat !== undefined && parsed.amountMsat !== null) {
          if (amountSats !== undefined && amountSats * 1000 !== toSafeInt(parsed.amountMsat, "invoice amount")) {
            throw new AppError("invalid_input", "This invoice already fixes its amount; leave the amount empty.");
          }
        } else {
          amount = BigInt(needAmount());
        }
        const res = await this.call("Getting a fee quote", (sdk) =>
          sdk.prepareSendPayment({ paymentRequest: { type: "input", input: destination }, amount }),
        );
        const m = res.paymentMethod;
        let feeSats: number;
        let options: Sdk.SendPaymentOptions | undefined;
        let type: DestinationType;
        if (m.type === "bolt11Invoice") {
          feeSats = toSafeInt(m.lightningFeeSats, "fee");
          options = { type: "bolt11Invoice", preferSpark: false };
          type = "bolt11";
        } else if (m.type === "bitcoinAddress") {
          // The medium speed: what most wallets offer by default. Fee = service fee + L1 broadcast fee.
          feeSats = toSafeInt(m.feeQuote.speedMedium.userFeeSat, "fee") + toSafeInt(m.feeQuote.speedMedium.l1BroadcastFeeSat, "fee");
          options = { type: "bitcoinAddress", confirmationSpeed: "medium" };
          type = "bitcoin_address";
        } else if (m.type === "sparkAddress") {
          feeSats = toSafeInt(m.fee, "fee");
          type = "spark_address";
        } else {
          throw new AppError("invalid_input", `Paying this kind of destination (${m.type}) is not supported.`);
        }
        pending = { kind: "payment", payment: res, options, quote: { id, destination, destinationType: type, amountSats: toSafeInt(res.amount, "amount"), feeSats, expiresAt } };
        break;
      }
      default:
        throw new AppError("invalid_input", `Paying this kind of destination (${parsed.type}) is not supported.`);
    }
    this.quotes.set(id, pending);
    return { ...pending.quote };
  }

  private prune(): void {
    const now = Date.now();
    for (const [id, q] of this.quotes) {
      if (q.inDoubtSince === undefined ? q.quote.expiresAt < now : now - q.inDoubtSince > IN_DOUBT_MS) this.quotes.delete(id);
    }
  }

  async send(prepared: PreparedSend | string): Promise<SentPayment> {
    const id = typeof prepared === "string" ? prepared : prepared?.id;
    this.prune();
    const pending = typeof id === "string" ? this.quotes.get(id) : undefined;
    // A quote whose send may already have paid is never refused for its age: the retry must reach
    // the SDK with the same idempotency key, which answers with the payment the first try made.
    if (!pending || (pending.inDoubtSince === undefined && pending.quote.expiresAt < Date.now())) {
      if (pending) this.quotes.delete(pending.quote.id);
      throw new AppError("not_found", "This payment quote has expired or was already used; prepare the payment again.");
    }
    let payment: Sdk.Payment;
    try {
      // The quote id is the idempotency key: a retry after a timeout can't pay twice.
      if (pending.kind === "lnurl") {
        const res = await this.call("Sending the payment", (sdk) => sdk.lnurlPay({ prepareResponse: pending.lnurl!, idempotencyKey: pending.quote.id }), this.opts.sendTimeoutMs);
        payment = res.payment;
      } else {
        const res = await this.call(
          "Sending the payment",
          (sdk) => sdk.sendPayment({ prepareResponse: pending.payment!, options: pending.options, idempotencyKey: pending.quote.id }),
          this.opts.sendTimeoutMs,
        );
        payment = res.payment;
      }
    } catch (err) {
      // Only a failure that says the money did not leave (bad input, not enough funds) ends the
      // quote; a timeout, a network error or anything unexplained may have paid: keep the quote
      // and its key for the retry.
      if (err instanceof AppError && err.code === "invalid_input" && pending.inDoubtSince === undefined) {
        this.quotes.delete(pending.quote.id);
      } else {
        pending.inDoubtSince ??= Date.now();
        log.warn("a send's outcome is not known; its quote is kept for a retry with the same idempotency key", { quote: pending.quote.id, err: errorMessage(err) });
      }
      if (err instanceof AppError && /timed out/.test(err.message)) {
        throw new AppError("unavailable", "The payment is still in progress; check the wallet's payments before trying again (a retry with the same quote won't pay twice).");
      }
      throw err;
    }
    const status = payment?.status === "completed" || payment?.status === "pending" || payment?.status === "failed" ? payment.status : "pending";
    // Pending: still in flight, so a retry of it must find this payment again (same key).
    if (status === "pending") pending.inDoubtSince = Date.now();
    else this.quotes.delete(pending.quote.id);
    this.opts.onSent();
    return {
      id: typeof payment?.id === "string" ? payment.id : pending.quote.id,
      status,
      amountSats: payment ? toSafeInt(payment.amount, "amount") : pending.quote.amountSats,
      feeSats: payment ? toSafeInt(payment.fees, "fee") : pending.quote.feeSats,
    };
  }
}
