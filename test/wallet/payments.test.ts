// Payments (src/wallet/payments.ts) against the Lightning test double and a real ledger file:
// matching receives to jobs, crediting exactly once (events, duplicates, reconciliation),
// waiting with expiry, a wallet that fails or hangs, and zaps — which count only when the wallet
// itself received the zap's invoice.
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash, randomBytes } from "node:crypto";
import { secp256k1 } from "@noble/curves/secp256k1";
import { finalizeEvent, generateSecretKey, getPublicKey, type Event } from "nostr-tools/pure";
import { Bus } from "../../src/bus.ts";
import { AppError } from "../../src/errors.ts";
import { Ledger } from "../../src/ledger/ledger.ts";
import { encodeBolt11 } from "../fixtures/bolt11-encode.ts";
import { PaymentReceived } from "../../src/wallet/events.ts";
import { DEPOSIT_DESCRIPTION } from "../../src/wallet/wallet.ts";
import { readZapClaim } from "../../src/nostr/nip57.ts";
import { Payments, type PaymentsOptions } from "../../src/wallet/payments.ts";
import { LightningDouble } from "../fixtures/lightning-double.ts";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const US_SK = generateSecretKey();
const US = getPublicKey(US_SK);
const hex = (n: number) => randomBytes(n).toString("hex");

async function setup(opts: Partial<PaymentsOptions> & { lightningAddress?: boolean; start?: boolean } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "payments-test-"));
  const ledger = Ledger.open(join(dir, "ledger.sqlite"));
  const bus = new Bus();
  const wallet = new LightningDouble();
  await wallet.connect();
  if (opts.lightningAddress) await wallet.registerLightningAddress("provider");
  const payments = new Payments({ wallet, ledger, bus, reconcileMs: 60_000, walletCallMs: 300, zapGraceMs: 150, ...opts });
  const received: Array<{ paymentId: string; amountMsats: number; jobId: string | null }> = [];
  cleanups.push(bus.subscribe(PaymentReceived, (p) => void received.push(p)));
  cleanups.push(() => {
    payments.stop();
    wallet.setFailing("none");
    ledger.close();
    rmSync(dir, { recursive: true, force: true });
  });
  if (opts.start !== false) payments.start();
  /** A job waiting for `msats` with a fresh invoice from the wallet (as the engine makes it). */
  const job = async (msats = 21_000, status: "payment-required" | "success" = "payment-required") => {
    const id = hex(32);
    ledger.insertJob({ id, kind: 5050, customer: hex(32), requestJson: "{}", status, createdAt: Date.now() });
    const inv = await payments.createInvoice({ id, amountMsats: msats, description: `compute job ${id.slice(0, 12)}`, expirySecs: 600 });
    ledger.updateJob(id, { amountMsats: msats, bolt11: inv.bolt11, paymentHash: inv.paymentHash });
    return { id, ...inv };
  };
  return { dir, ledger, bus, wallet, payments, received, job };
}

/** A NIP-57 zap: the payer's signed zap request, the invoice made for it, and the receipt. */
function zapRequest(opts: { eventId: string; msats: number; to?: string; payer?: Uint8Array; extraP?: string }): Event {
  const tags = [["p", opts.to ?? US], ["e", opts.eventId], ["amount", String(opts.msats)], ["relays", "ws://127.0.0.1:1"]];
  if (opts.extraP) tags.push(["p", opts.extraP]);
  return finalizeEvent({ kind: 9734, created_at: Math.floor(Date.now() / 1000), tags, content: "" }, opts.payer ?? generateSecretKey());
}

function receipt(opts: { request: Event; bolt11: string; eventId?: string; to?: string }): Event {
  // Signed by the LNURL server's key; what it claims is checked against our own wallet.
  return finalizeEvent(
    {
      kind: 9735,
      created_at: Math.floor(Date.now() / 1000),
      tags: [["p", opts.to ?? US], ["e", opts.eventId ?? opts.request.tags.find((t) => t[0] === "e")![1]!], ["bolt11", opts.bolt11], ["description", JSON.stringify(opts.request)]],
      content: "",
    },
    generateSecretKey(),
  );
}

/** What an LNURL server does for a zap: an invoice from our wallet whose description is the zap request. */
async function zapInvoice(wallet: LightningDouble, request: Event, msats: number) {
  return wallet.createInvoice({ amountMsats: msats, description: JSON.stringify(request), expirySecs: 600 });
}

function claimOf(ev: Event) {
  const r = readZapClaim(ev, US);
  if (!r.ok) throw new Error(`claim refused: ${r.reason}`);
  return r.claim;
}

describe("invoices and crediting", () => {
  test("a paid invoice is credited once for its job: SDK event, duplicate event and reconciliation", async () => {
    const { ledger, wallet, payments, received, job } = await setup();
    const j = await job(21_000);
    expect(j.bolt11.startsWith("lnbcrt210n1")).toBe(true);
    const p = wallet.settle(j.bolt11);
    expect(ledger.getJob(j.id)?.status).toBe("paid");
    wallet.emitDuplicate(p.id);
    expect(await payments.reconcile()).toBe(0);
    expect(ledger.payments()).toEqual([{ id: p.id, jobId: j.id, amountMsats: 21_000, bolt11: j.bolt11.toLowerCase(), paymentHash: j.paymentHash, source: "invoice", receivedAt: p.receivedAt }]);
    expect(received).toEqual([{ paymentId: p.id, amountMsats: 21_000, jobId: j.id }]);
    expect(ledger.earnings().allSats).toBe(21);
  });

  test("paid while we were down (no event): the first reconciliation at start credits it, once", async () => {
    const { ledger, wallet, payments, job } = await setup({ start: false });
    const j = await job(5_000);
    wallet.settleWhileDown(j.bolt11);
    expect(ledger.payments()).toEqual([]);
    payments.start();
    payments.start(); // idempotent
    await Bun.sleep(20);
    expect(ledger.getJob(j.id)?.status).toBe("paid");
    expect(await payments.reconcile()).toBe(0);
    expect(ledger.payments().map((p) => p.jobId)).toEqual([j.id]);
  });

  test("a payment smaller than the job's price is booked but does not pay the job", async () => {
    const { ledger, wallet, payments, job } = await setup();
    const j = await job(21_000);
    const ac = new AbortController();
    const waiting = payments.waitForPayment({ id: j.id, paymentHash: j.paymentHash, bolt11: j.bolt11, expiresAt: Date.now() + 300, signal: ac.signal });
    wallet.settle(j.bolt11, { amountMsats: 1_000 });
    expect(ledger.getJob(j.id)?.status).toBe("payment-required");
    expect(ledger.payments()[0]).toMatchObject({ jobId: j.id, amountMsats: 1_000 });
    const err = await waiting.catch((e) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err.code).toBe("not_found");
  });

  test("a receive that matches no invoice is booked without a job (zaps off: at once)", async () => {
    const { ledger, wallet, received } = await setup();
    const inv = await wallet.createInvoice({ amountMsats: 3_000, description: "tip", expirySecs: 600 });
    wallet.settle(inv.bolt11);
    expect(ledger.payments()).toHaveLength(1);
    expect(received[0]).toMatchObject({ jobId: null, amountMsats: 3_000 });
    expect(ledger.payments()[0]?.source).toBe("invoice");
    expect(ledger.earnings().allSats).toBe(3);
  });

  test("the owner's deposits (a RECEIVE invoice, a transfer without invoice) are booked as 'other', not earnings; zaps on or off", async () => {
    for (const lightningAddress of [false, true]) {
      const { ledger, wallet, received, job } = await setup({ lightningAddress });
      const paidJob = await job(21_000);
      wallet.settle(paidJob.bolt11);
      const deposit = await wallet.createInvoice({ amountMsats: 50_000, description: DEPOSIT_DESCRIPTION, expirySecs: 600 });
      wallet.settle(deposit.bolt11);
      wallet.receiveTransfer(7_000);
      // Booked at once (a deposit never waits for a zap receipt), as money in.
      expect(ledger.payments().map((p) => [p.amountMsats, p.source, p.jobId])).toEqual([
        [7_000, "other", null],
        [50_000, "other", null],
        [21_000, "invoice", paidJob.id],
      ]);
      expect(received).toHaveLength(3);
      const e = ledger.earnings();
      expect([e.todaySats, e.weekSats, e.allSats, e.days.at(-1)?.sats]).toEqual([21, 21, 21, 21]);
    }
  });
});

describe("waitForPayment", () => {
  test("resolves when paid, at once when already paid, rejects on expiry and on abort", async () => {
    const { wallet, payments, job } = await setup();
    const a = await job();
    const never = new AbortController().signal;
    const p1 = payments.waitForPayment({ id: a.id, paymentHash: a.paymentHash, bolt11: a.bolt11, expiresAt: Date.now() + 5_000, signal: never });
    setTimeout(() => wallet.settle(a.bolt11), 20);
    await p1;
    await payments.waitForPayment({ id: a.id, paymentHash: a.paymentHash, bolt11: a.bolt11, expiresAt: Date.now() + 5_000, signal: never });

    const b = await job();
    const t0 = performance.now();
    const expired = await payments.waitForPayment({ id: b.id, paymentHash: b.paymentHash, bolt11: b.bolt11, expiresAt: Date.now() + 100, signal: never }).catch((e) => e);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(90);
    expect(expired).toMatchObject({ code: "not_found", message: "invoice expired unpaid" });

    const c = await job();
    const ac = new AbortController();
    const aborted = payments.waitForPayment({ id: c.id, paymentHash: c.paymentHash, bolt11: c.bolt11, expiresAt: Date.now() + 5_000, signal: ac.signal }).catch((e) => e);
    ac.abort(new AppError("conflict", "cancelled by the customer"));
    expect((await aborted).message).toBe("cancelled by the customer");
  });

  test("a payment that lands while the wait times out is still found by the last reconciliation", async () => {
    const { ledger, wallet, payments, job } = await setup({ start: false });
    const j = await job();
    // Not started: no event listener, so only the expiry's final reconcile can see it.
    wallet.settleWhileDown(j.bolt11);
    await payments.waitForPayment({ id: j.id, paymentHash: j.paymentHash, bolt11: j.bolt11, expiresAt: Date.now() + 30, signal: new AbortController().signal });
    expect(ledger.getJob(j.id)?.status).toBe("paid");
  });
});

describe("a wallet that fails or hangs", () => {
  test("fail: createInvoice rejects with the wallet's reason; nothing is credited", async () => {
    const { ledger, wallet, payments } = await setup();
    wallet.setFailing("fail");
    const err = await payments.createInvoice({ id: "x", amountMsats: 1000, description: "d", expirySecs: 600 }).catch((e) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err.message).toContain("simulated failure");
    expect(await payments.reconcile()).toBe(0);
    expect(ledger.payments()).toEqual([]);
  });

  test("hang: createInvoice and reconciliation give up after the bound, and work again afterwards", async () => {
    const { ledger, wallet, payments, job } = await setup({ walletCallMs: 200 });
    const j = await job();
    wallet.setFailing("hang");
    const t0 = performance.now();
    const err = await payments.createInvoice({ id: "x", amountMsats: 1000, description: "d", expirySecs: 600 }).catch((e) => e);
    expect(err).toMatchObject({ code: "unavailable" });
    expect(err.message).toContain("did not answer within");
    expect(await payments.reconcile()).toBe(0);
    expect(performance.now() - t0).toBeLessThan(1500);
    wallet.setFailing("none");
    wallet.settleWhileDown(j.bolt11);
    expect(await payments.reconcile()).toBe(1);
    expect(ledger.getJob(j.id)?.status).toBe("paid");
  });

  test("ready() names why paid jobs can't be taken", async () => {
    const { payments } = await setup();
    expect(payments.ready()).toEqual({ ok: true });
    const unconnected = new Payments({ wallet: new LightningDouble(), ledger: Ledger.open(":memory:"), bus: new Bus() });
    expect(unconnected.ready()).toEqual({ ok: false, reason: "the wallet is not connected yet" });
    expect(new Payments({ wallet: null, ledger: Ledger.open(":memory:"), bus: new Bus() }).ready()).toEqual({ ok: false, reason: "no wallet is set up" });
  });
});

describe("readZapClaim (NIP-57 receipts, pure)", () => {
  test("reads a receipt whose invoice commits to the zap request (d field or description hash)", async () => {
    const wallet = new LightningDouble();
    await wallet.connect();
    const eventId = hex(32);
    const req = zapRequest({ eventId, msats: 5_000 });
    const inv = await zapInvoice(wallet, req, 5_000);
    const r = readZapClaim(receipt({ request: req, bolt11: inv.bolt11 }), US);
    expect(r).toMatchObject({ ok: true, claim: { eventId, bolt11: inv.bolt11, paymentHash: inv.paymentHash, amountMsats: 5_000, sender: req.pubkey } });

    // What LNURL servers usually do: the `h` field holds sha256 of the zap request.
    const key = secp256k1.utils.randomPrivateKey();
    const hashed = encodeBolt11(
      { network: "regtest", amountMsats: 5_000, timestamp: Math.floor(Date.now() / 1000), paymentHash: hex(32), paymentSecret: hex(32), descriptionHash: createHash("sha256").update(JSON.stringify(req)).digest("hex") },
      (digest) => {
        const sig = secp256k1.sign(digest, key);
        return { signature: sig.toCompactRawBytes(), recovery: sig.recovery };
      },
    );
    expect(readZapClaim(receipt({ request: req, bolt11: hashed }), US).ok).toBe(true);
  });

  test("refuses receipts that don't bind, aren't ours or name no single event", async () => {
    const wallet = new LightningDouble();
    await wallet.connect();
    const eventId = hex(32);
    const req = zapRequest({ eventId, msats: 5_000 });
    // An invoice of ours for something else (a job's invoice, a deposit): not made for this zap.
    const other = await wallet.createInvoice({ amountMsats: 5_000, description: "compute job 1234", expirySecs: 600 });
    expect(readZapClaim(receipt({ request: req, bolt11: other.bolt11 }), US)).toEqual({ ok: false, reason: "the invoice is not bound to the zap request" });
    const elsewhere = zapRequest({ eventId, msats: 5_000, to: hex(32) });
    expect(readZapClaim(receipt({ request: elsewhere, bolt11: (await zapInvoice(wallet, elsewhere, 5_000)).bolt11 }), US)).toEqual({ ok: false, reason: "the zap request is not addressed to us" });
    const two = zapRequest({ eventId, msats: 5_000, extraP: hex(32) });
    expect(readZapClaim(receipt({ request: two, bolt11: (await zapInvoice(wallet, two, 5_000)).bolt11 }), US).ok).toBe(false);
    const noE = finalizeEvent({ kind: 9734, created_at: Math.floor(Date.now() / 1000), tags: [["p", US], ["amount", "5000"]], content: "" }, generateSecretKey());
    expect(readZapClaim(receipt({ request: noE, bolt11: (await zapInvoice(wallet, noE, 5_000)).bolt11, eventId }), US)).toEqual({ ok: false, reason: "the zap request names no single event" });
    // A tampered zap request (signature no longer valid) or a different amount.
    const tampered = { ...req, tags: [...req.tags, ["x", "y"]] } as Event;
    expect(readZapClaim(receipt({ request: tampered, bolt11: (await zapInvoice(wallet, tampered, 5_000)).bolt11 }), US).ok).toBe(false);
    expect(readZapClaim(receipt({ request: req, bolt11: (await zapInvoice(wallet, req, 6_000)).bolt11 }), US).ok).toBe(false);
    expect(readZapClaim({ kind: 9735 }, US).ok).toBe(false);
  });
});

describe("zaps", () => {
  async function zapSetup() {
    const s = await setup({ lightningAddress: true });
    expect(await s.payments.zapsEnabled()).toBe(true);
    return s;
  }

  test("zaps are off without a Lightning address", async () => {
    const { payments } = await setup();
    expect(await payments.zapsEnabled()).toBe(false);
  });

  test("paid, then the receipt: the receive waits for its receipt and is booked once as the job's zap", async () => {
    const { ledger, wallet, payments, received, job } = await zapSetup();
    const j = await job(5_000);
    const feedbackId = hex(32);
    const ac = new AbortController();
    const waiting = payments.waitForPayment({ id: j.id, paymentHash: j.paymentHash, bolt11: j.bolt11, expiresAt: Date.now() + 5_000, signal: ac.signal });
    const req = zapRequest({ eventId: feedbackId, msats: 5_000 });
    const inv = await zapInvoice(wallet, req, 5_000);
    const p = wallet.settle(inv.bolt11);
    expect(ledger.payments()).toEqual([]); // held: its receipt may still come
    expect(await payments.zapReceived(claimOf(receipt({ request: req, bolt11: inv.bolt11 })), j.id)).toBe("credited");
    await waiting;
    expect(ledger.payments()).toEqual([{ id: p.id, jobId: j.id, amountMsats: 5_000, bolt11: inv.bolt11.toLowerCase(), paymentHash: inv.paymentHash, source: "zap", receivedAt: p.receivedAt }]);
    expect(ledger.getJob(j.id)?.status).toBe("paid");
    // The same receipt again (another relay), a duplicate SDK event, reconciliation, the grace: nothing new.
    expect(await payments.zapReceived(claimOf(receipt({ request: req, bolt11: inv.bolt11 })), j.id)).toBe("already");
    wallet.emitDuplicate(p.id);
    await payments.reconcile();
    await Bun.sleep(200);
    expect(ledger.payments()).toHaveLength(1);
    expect(received).toEqual([{ paymentId: p.id, amountMsats: 5_000, jobId: j.id }]);
  });

  test("receipt first, payment later: booked for the job when the wallet receives it", async () => {
    const { ledger, wallet, payments, job } = await zapSetup();
    const j = await job(5_000);
    const req = zapRequest({ eventId: hex(32), msats: 5_000 });
    const inv = await zapInvoice(wallet, req, 5_000);
    expect(await payments.zapReceived(claimOf(receipt({ request: req, bolt11: inv.bolt11 })), j.id)).toBe("waiting");
    expect(ledger.payments()).toEqual([]);
    wallet.settle(inv.bolt11);
    expect(ledger.payments()[0]).toMatchObject({ jobId: j.id, source: "zap", amountMsats: 5_000 });
    expect(ledger.getJob(j.id)?.status).toBe("paid");
  });

  test("a forged receipt (its invoice never paid to our wallet) credits nothing", async () => {
    const { ledger, wallet, payments, job } = await zapSetup();
    const j = await job(5_000);
    // An invoice from some other node, made for a zap request naming our job's feedback.
    const elsewhere = new LightningDouble();
    await elsewhere.connect();
    const req = zapRequest({ eventId: hex(32), msats: 5_000 });
    const inv = await zapInvoice(elsewhere, req, 5_000);
    elsewhere.settle(inv.bolt11);
    expect(await payments.zapReceived(claimOf(receipt({ request: req, bolt11: inv.bolt11 })), j.id)).toBe("waiting");
    await payments.reconcile();
    await Bun.sleep(200);
    expect(ledger.payments()).toEqual([]);
    expect(ledger.getJob(j.id)?.status).toBe("payment-required");
    expect(wallet.issued().some((i) => i.paymentHash === inv.paymentHash)).toBe(false);
  });

  test("a receipt claiming another job's paid invoice, or naming a job we don't have, is rejected", async () => {
    const { ledger, wallet, payments, job } = await zapSetup();
    const a = await job(5_000);
    const b = await job(5_000);
    wallet.settle(a.bolt11);
    // Not bound by description, so readZapClaim refuses it first; zapReceived refuses it on its own too.
    const request = JSON.stringify(zapRequest({ eventId: hex(32), msats: 5_000 }));
    const fake = { receiptId: hex(32), eventId: hex(32), bolt11: a.bolt11, paymentHash: a.paymentHash, amountMsats: 5_000, sender: hex(32), zapRequest: request, signer: hex(32) };
    expect(await payments.zapReceived(fake, b.id)).toBe("rejected");
    expect(await payments.zapReceived(fake, hex(32))).toBe("rejected");
    expect(ledger.getJob(b.id)?.status).toBe("payment-required");
    expect(ledger.payments().map((p) => p.jobId)).toEqual([a.id]);
  });

  test("no receipt within the grace: booked as a plain receive; a receipt after that still tells the job it was paid", async () => {
    const { ledger, wallet, payments, received, job } = await zapSetup();
    const j = await job(5_000);
    const req = zapRequest({ eventId: hex(32), msats: 5_000 });
    const inv = await zapInvoice(wallet, req, 5_000);
    wallet.settle(inv.bolt11);
    await Bun.sleep(250);
    expect(ledger.payments()).toEqual([expect.objectContaining({ jobId: null, source: "invoice", amountMsats: 5_000 })]);
    expect(await payments.zapReceived(claimOf(receipt({ request: req, bolt11: inv.bolt11 })), j.id)).toBe("linked");
    expect(ledger.getJob(j.id)?.status).toBe("paid");
    // Money counted once; the late link says which job it paid, in the ledger too.
    expect(ledger.payments()).toHaveLength(1);
    expect(ledger.payments()[0]).toMatchObject({ jobId: j.id, source: "zap", amountMsats: 5_000 });
    expect(await payments.zapReceived(claimOf(receipt({ request: req, bolt11: inv.bolt11 })), j.id)).toBe("already");
    expect(received.map((r) => r.jobId)).toEqual([null, j.id]);
    expect(ledger.earnings().allSats).toBe(5);
  });

  test("a held receive is booked by the next start's reconciliation if we stop during the grace", async () => {
    const s = await zapSetup();
    const req = zapRequest({ eventId: hex(32), msats: 2_000 });
    const inv = await zapInvoice(s.wallet, req, 2_000);
    s.wallet.settle(inv.bolt11);
    s.payments.stop();
    expect(s.ledger.payments()).toEqual([]);
    const again = new Payments({ wallet: s.wallet, ledger: s.ledger, bus: s.bus, walletCallMs: 300, zapGraceMs: 50 });
    again.start();
    await Bun.sleep(20);
    expect(s.ledger.payments()).toEqual([]); // held again for its receipt
    await Bun.sleep(100);
    again.stop();
    expect(s.ledger.payments()).toEqual([expect.objectContaining({ jobId: null, amountMsats: 2_000 })]);
  });
});
