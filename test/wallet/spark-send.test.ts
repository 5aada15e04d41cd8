// What the real Breez Spark SDK, offline on regtest, can show about a send that fails ambiguously:
// its failure (no network) keeps the quote, and a retry reaches the SDK again with the same
// idempotencyKey, for every destination type the wallet pays (bolt11, Lightning address/LNURL,
// Spark address, bitcoin address). Offline the SDK can't quote (prepareSendPayment and
// prepareLnurlPay ask the network), so each quote is placed in the wallet as prepareSend would
// leave it, with the SDK's own parse of the destination where it can parse offline; the calls to
// sendPayment/lnurlPay are only watched (the real SDK runs them). The internet is blocked for the
// whole file: fetch refuses every host but loopback.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type * as Sdk from "@breeztech/breez-sdk-spark";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { AppError } from "../../src/errors.ts";
import { SparkWallet } from "../../src/wallet/spark.ts";
import type { DestinationType } from "../../src/wallet/wallet.ts";
import { offlineFileRoot } from "../fixtures/common.ts";
import { LightningDouble } from "../fixtures/lightning-double.ts";

const MNEMONIC = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
const root = offlineFileRoot("spark-send-test-");

type Quote = { kind: "payment" | "lnurl"; payment?: Sdk.PrepareSendPaymentResponse; lnurl?: Sdk.PrepareLnurlPayResponse; options?: Sdk.SendPaymentOptions; quote: unknown };

describe("the real Spark SDK offline: a send that fails ambiguously keeps its quote and idempotency key", () => {
  let wallet: SparkWallet;
  let sdk: Sdk.BreezSdk;
  const keys: string[] = [];
  const payee = new LightningDouble();

  beforeAll(async () => {
    wallet = new SparkWallet({ mnemonic: MNEMONIC, network: "regtest", dataDir: join(root, "w"), sendTimeoutMs: 10_000 });
    await wallet.connect();
    expect(wallet.view().state).toBe("ready");
    await payee.connect();
    sdk = (wallet as unknown as { sdk: Sdk.BreezSdk }).sdk;
    // Watch the key each send carries; the real SDK still does the work.
    const send = sdk.sendPayment.bind(sdk);
    const lnurl = sdk.lnurlPay.bind(sdk);
    sdk.sendPayment = (req) => (keys.push(req.idempotencyKey ?? "none"), send(req));
    sdk.lnurlPay = (req) => (keys.push(req.idempotencyKey ?? "none"), lnurl(req));
  }, 30_000);
  afterAll(async () => {
    await wallet?.disconnect();
  });

  /** Places a quote as prepareSend leaves it (offline the SDK can't make one). */
  function place(q: Omit<Quote, "quote">, destination: string, type: DestinationType, amountSats: number): string {
    const id = randomUUID();
    const quotes = (wallet as unknown as { sends: { quotes: Map<string, Quote> } }).sends.quotes;
    quotes.set(id, { ...q, quote: { id, destination, destinationType: type, amountSats, feeSats: 0, expiresAt: Date.now() + 600_000 } });
    return id;
  }

  async function bolt11Details(): Promise<Sdk.Bolt11InvoiceDetails & { type: "bolt11Invoice" }> {
    const inv = await payee.createInvoice({ amountMsats: 10_000, description: "offline", expirySecs: 600 });
    const parsed = await sdk.parse(inv.bolt11);
    expect(parsed.type).toBe("bolt11Invoice");
    return parsed as Sdk.Bolt11InvoiceDetails & { type: "bolt11Invoice" };
  }

  async function sendsTwice(id: string) {
    const before = keys.length;
    const first = await wallet.send(id).catch((e: unknown) => e);
    expect(first).toBeInstanceOf(AppError);
    // No network: a failure that does not say the money stayed.
    expect((first as AppError).code).toBe("unavailable");
    // The retry is not "quote expired or already used": it reaches the SDK again, with the same key.
    const second = await wallet.send(id).catch((e: unknown) => e);
    expect((second as AppError).code).toBe("unavailable");
    expect(keys.slice(before)).toEqual([id, id]);
  }

  test("bolt11: retried with the same idempotencyKey", async () => {
    const details = await bolt11Details();
    const id = place(
      { kind: "payment", payment: { paymentMethod: { type: "bolt11Invoice", invoiceDetails: details, lightningFeeSats: 0 }, amount: 10n, feePolicy: "feesExcluded" }, options: { type: "bolt11Invoice", preferSpark: false } },
      details.invoice.bolt11,
      "bolt11",
      10,
    );
    await sendsTwice(id);
  }, 60_000);

  test("Spark address: retried with the same idempotencyKey", async () => {
    const address = (await payee.receiveAddress("spark")).address;
    const id = place({ kind: "payment", payment: { paymentMethod: { type: "sparkAddress", address, fee: "0" }, amount: 1_000n, feePolicy: "feesExcluded" } }, address, "spark_address", 1_000);
    await sendsTwice(id);
  }, 60_000);

  test("bitcoin address: retried with the same idempotencyKey", async () => {
    const address = (await payee.receiveAddress("bitcoin")).address;
    const parsed = (await sdk.parse(address)) as Sdk.BitcoinAddressDetails & { type: "bitcoinAddress" };
    expect(parsed.type).toBe("bitcoinAddress");
    const speed = { userFeeSat: 1, l1BroadcastFeeSat: 1 };
    const id = place(
      {
        kind: "payment",
        payment: { paymentMethod: { type: "bitcoinAddress", address: parsed, feeQuote: { id: randomUUID(), expiresAt: Math.floor(Date.now() / 1000) + 600, speedFast: speed, speedMedium: speed, speedSlow: speed } }, amount: 20_000n, feePolicy: "feesExcluded" },
        options: { type: "bitcoinAddress", confirmationSpeed: "medium" },
      },
      address,
      "bitcoin_address",
      20_000,
    );
    await sendsTwice(id);
  }, 60_000);

  test("Lightning address (LNURL-pay): retried with the same idempotencyKey", async () => {
    const details = await bolt11Details();
    const payRequest: Sdk.LnurlPayRequestDetails = {
      callback: "https://example.com/lnurlp/alice/callback",
      minSendable: 1_000,
      maxSendable: 100_000_000,
      metadataStr: '[["text/plain","alice"]]',
      commentAllowed: 0,
      domain: "example.com",
      url: "https://example.com/.well-known/lnurlp/alice",
      address: "alice@example.com",
    } as Sdk.LnurlPayRequestDetails;
    const id = place({ kind: "lnurl", lnurl: { amountSats: 10, payRequest, feeSats: 0, invoiceDetails: details, feePolicy: "feesExcluded" } }, "alice@example.com", "lightning_address", 10);
    await sendsTwice(id);
  }, 60_000);
});
