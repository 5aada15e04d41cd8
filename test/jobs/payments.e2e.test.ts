// The provider end to end in the paid modes, with a scripted wallet standing in for the payments
// work (EnginePayments): pay first (payment-required with a bolt11, then the job), pay after (an
// amount tag on the result), the bid, and paid jobs that outlive a restart or are paid late.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
import { AppError } from "../../src/errors.ts";
import type { EnginePayments } from "../../src/jobs/engine.ts";
import { JobStatusChanged, type JobView } from "../../src/jobs/events.ts";
import { Ledger } from "../../src/ledger/ledger.ts";
import { PaymentReceived } from "../../src/wallet/events.ts";
import { fakeAnswer } from "../fixtures/ollama-server.ts";
import { providerSuite, until } from "./harness.ts";

const { fake, provider, tempDir } = providerSuite();

/** A wallet that issues fake invoices and lets the test decide when one is paid. */
function scriptedWallet() {
  const waiting = new Map<string, { resolve(): void; reject(e: unknown): void }>();
  const issued: Array<{ id: string; amountMsats: number; bolt11: string; paymentHash: string }> = [];
  let n = 0;
  /** While set, invoice creation waits for it (a slow wallet). */
  let hold: Promise<void> | null = null;
  const payments: EnginePayments = {
    ready: () => ({ ok: true }),
    async createInvoice(job) {
      if (hold) await hold;
      n++;
      const paymentHash = n.toString(16).padStart(64, "a");
      const bolt11 = `lnbcrt${job.amountMsats}n1test${n}`;
      issued.push({ id: job.id, amountMsats: job.amountMsats, bolt11, paymentHash });
      return { bolt11, paymentHash };
    },
    waitForPayment(job) {
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new AppError("not_found", "invoice expired unpaid")), Math.max(0, job.expiresAt - Date.now()));
        const onAbort = () => {
          clearTimeout(timer);
          reject(job.signal.reason);
        };
        job.signal.addEventListener("abort", onAbort, { once: true });
        waiting.set(job.paymentHash, {
          resolve: () => {
            clearTimeout(timer);
            job.signal.removeEventListener("abort", onAbort);
            resolve();
          },
          reject,
        });
      });
    },
    // No Lightning address, and nothing to reconcile: zaps never reach this wallet.
    zapsEnabled: async () => false,
    zapReceived: async () => "rejected",
    reconciledNow: async () => "no-wallet",
  };
  return {
    payments,
    issued,
    /** Invoices wait until the returned function is called. */
    holdInvoices(): () => void {
      let release = () => {};
      hold = new Promise<void>((resolve) => (release = resolve));
      return () => {
        hold = null;
        release();
      };
    },
    pay(bolt11: string) {
      const inv = issued.find((i) => i.bolt11 === bolt11);
      if (!inv) throw new Error(`no such invoice ${bolt11}`);
      waiting.get(inv.paymentHash)?.resolve();
      waiting.delete(inv.paymentHash);
    },
  };
}

describe("pay first (upfront)", () => {
  test("payment-required with amount and bolt11; nothing runs until paid; then processing and the result", async () => {
    const wallet = scriptedWallet();
    const p = await provider({ config: { pricing: { mode: "upfront", perJobMsats: 21_000 } }, engine: { payments: wallet.payments } });
    const c = p.customer;
    const req = c.request({ inputs: [["paid words", "text"]], bidMsats: 50_000 });
    await c.publish(req);
    const due = await c.waitForStatus(req.id, "payment-required");
    const amount = due.tags.find((t) => t[0] === "amount")!;
    expect(amount[1]).toBe("21000");
    expect(amount[2]).toBe(wallet.issued[0]!.bolt11);
    expect(due.extra).toContain("21 sats");
    expect(p.ledger.getJob(req.id)).toMatchObject({ status: "payment-required", amountMsats: 21_000, bolt11: amount[2], paymentHash: wallet.issued[0]!.paymentHash });
    await Bun.sleep(200);
    expect(fake.requests("/api/generate").filter((r) => r.body?.prompt)).toEqual([]);
    expect(c.feedback(req.id).map((f) => f.status)).toEqual(["payment-required"]);
    wallet.pay(amount[2]!);
    const result = await c.waitForResult(req.id);
    expect(result.content).toBe(fakeAnswer("paid words"));
    expect(result.event.tags.some((t) => t[0] === "amount")).toBe(false);
    expect(c.feedback(req.id).map((f) => f.status)).toContain("processing");
    expect(p.ledger.getJob(req.id)?.status).toBe("success");
  });

  test("a bid below the price → error naming both; no invoice", async () => {
    const wallet = scriptedWallet();
    const p = await provider({ config: { pricing: { mode: "upfront", perJobMsats: 21_000 } }, engine: { payments: wallet.payments } });
    const req = p.customer.request({ bidMsats: 1000 });
    await p.customer.publish(req);
    const err = await p.customer.waitForStatus(req.id, "error");
    expect(err.extra).toBe("bid 1000 msats is below this provider's price of 21000 msats");
    expect(wallet.issued).toEqual([]);
  });

  test("the customer cancels while the invoice is open: nothing runs, nothing more is sent", async () => {
    const wallet = scriptedWallet();
    const p = await provider({ config: { pricing: { mode: "upfront", perJobMsats: 5000 } }, engine: { payments: wallet.payments } });
    const c = p.customer;
    const req = c.request();
    await c.publish(req);
    await c.waitForStatus(req.id, "payment-required");
    await c.cancel(req.id);
    await until(() => p.ledger.getJob(req.id)?.status === "cancelled", 3000, "cancelled");
    await Bun.sleep(100);
    expect(c.feedback(req.id).map((f) => f.status)).toEqual(["payment-required"]);
  });

  test("going online in a paid mode without a ready wallet is refused with a reason", async () => {
    const p = await provider({ config: { pricing: { mode: "upfront" } }, offline: true });
    const err = await p.engine.goOnline().catch((e) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err.message).toContain("Can't take paid jobs");
    expect(p.engine.isOnline()).toBe(false);
  });
});

describe("pay after", () => {
  test("the result carries the amount for the tokens made and its bolt11", async () => {
    const wallet = scriptedWallet();
    const p = await provider({ config: { pricing: { mode: "after", perJobMsats: 1000, per1kTokensMsats: 2000 } }, engine: { payments: wallet.payments } });
    const req = p.customer.request({ inputs: [["a b c d", "text"]] });
    await p.customer.publish(req);
    const result = await p.customer.waitForResult(req.id);
    // "echo: a b c d" is 5 tokens at the fake: 1000 + ceil(2000 * 5 / 1000) = 1010, asked as whole sats: 2000.
    expect(result.event.tags).toContainEqual(["amount", "2000", wallet.issued[0]!.bolt11]);
    expect(p.ledger.getJob(req.id)).toMatchObject({ status: "success", amountMsats: 2000, paymentHash: wallet.issued[0]!.paymentHash });
  });
});

describe("the model's slot", () => {
  test("a slow wallet making a pay-after invoice doesn't hold the model: the next job generates meanwhile", async () => {
    const wallet = scriptedWallet();
    const p = await provider({ config: { limits: { maxConcurrentJobs: 1 }, pricing: { mode: "after", perJobMsats: 1000 } }, engine: { payments: wallet.payments } });
    const releaseInvoices = wallet.holdInvoices();
    // Two customers (one with an unpaid pay-after job would be asked to pay first next time).
    const other = await p.newCustomer();
    const first = p.customer.request({ inputs: [["first", "text"]] });
    const second = other.request({ inputs: [["second", "text"]] });
    await p.customer.publish(first);
    await until(() => fake.requests("/api/generate").some((r) => r.body?.prompt === "first"), 3000, "first generated");
    await other.publish(second);
    // The first job's model work is over; its invoice is still being made. The one slot is free.
    await until(() => fake.requests("/api/generate").some((r) => r.body?.prompt === "second"), 3000, "second generated while the first waits for its invoice");
    expect(p.customer.results(first.id)).toEqual([]);
    releaseInvoices();
    for (const [c, req] of [[p.customer, first], [other, second]] as const) expect((await c.waitForResult(req.id)).event.tags.some((t) => t[0] === "amount")).toBe(true);
  });
});

describe("paid jobs survive a restart", () => {
  test("paid before the crash (never started, or mid-run) → run once the provider is online again", async () => {
    const dir = tempDir("compute-paid-");
    const ledgerPath = join(dir, "ledger.db");
    const customerKey = generateSecretKey();
    const now = Math.floor(Date.now() / 1000);
    const paidWaiting = finalizeEvent({ kind: 5050, created_at: now, tags: [["i", "paid and waiting", "text"]], content: "" }, customerKey);
    const paidRunning = finalizeEvent({ kind: 5050, created_at: now, tags: [["i", "paid and running", "text"]], content: "" }, customerKey);
    const unpaidRunning = finalizeEvent({ kind: 5050, created_at: now, tags: [["i", "free and running", "text"]], content: "" }, customerKey);
    const before = Ledger.open(ledgerPath);
    const rows = [
      { ev: paidWaiting, status: "paid" as const, hash: "b".repeat(64) },
      { ev: paidRunning, status: "processing" as const, hash: "c".repeat(64) },
      { ev: unpaidRunning, status: "processing" as const, hash: null },
    ];
    for (const r of rows) {
      before.markSeen(r.ev.id, 5050);
      before.insertJob({ id: r.ev.id, kind: 5050, customer: r.ev.pubkey, requestJson: JSON.stringify(r.ev), status: r.status, model: "llama3.2:latest", amountMsats: r.hash ? 5000 : null, bolt11: r.hash ? `lnbcrt50n1${r.hash.slice(0, 4)}` : null, paymentHash: r.hash, createdAt: Date.now() - 2000 });
      if (r.hash) before.creditPayment({ id: `pay-${r.hash.slice(0, 4)}`, jobId: r.ev.id, amountMsats: 5000, paymentHash: r.hash, source: "invoice" });
    }
    before.close();

    const wallet = scriptedWallet();
    // The operator switched to pay-after meanwhile: jobs already paid must not be invoiced again.
    const p = await provider({ ledgerPath, customerKey, offline: true, config: { pricing: { mode: "after", perJobMsats: 5000 } }, engine: { payments: wallet.payments } });
    const c = p.customer;
    const told: JobView[] = [];
    p.bus.subscribe(JobStatusChanged, ({ job }) => told.push(job));
    expect(await p.engine.recover()).toBe(1); // only the unpaid one is closed
    expect((await c.waitForStatus(unpaidRunning.id, "error")).extra).toContain("provider restarted");
    expect(p.ledger.getJob(paidRunning.id)?.status).toBe("paid");
    // An open dashboard hears of both moves (rows no one holds go through the bus too).
    expect(told.find((j) => j.id === unpaidRunning.id)).toMatchObject({ status: "error", error: "provider restarted" });
    expect(told.find((j) => j.id === paidRunning.id)).toMatchObject({ status: "paid" });
    await p.engine.goOnline();
    const [a, b] = await Promise.all([c.waitForResult(paidWaiting.id), c.waitForResult(paidRunning.id)]);
    expect(a.content).toBe(fakeAnswer("paid and waiting"));
    expect(b.content).toBe(fakeAnswer("paid and running"));
    expect(p.ledger.getJob(paidWaiting.id)?.status).toBe("success");
    // Answered once each, never invoiced again, the unpaid one never run.
    await Bun.sleep(300);
    expect(c.results(paidWaiting.id)).toHaveLength(1);
    expect(c.results(paidRunning.id)).toHaveLength(1);
    expect(wallet.issued).toEqual([]);
    expect(fake.requests("/api/generate").map((r) => r.body?.prompt).filter(Boolean).sort()).toEqual(["paid and running", "paid and waiting"]);
  });

  test("an invoice from before the restart, paid now → the job runs", async () => {
    const wallet = scriptedWallet();
    const p = await provider({ config: { pricing: { mode: "upfront", perJobMsats: 5000 } }, engine: { payments: wallet.payments } });
    const c = p.customer;
    // What the previous run left: a job waiting for its payment (nobody waits for it now).
    const req = c.request({ inputs: [["paid late", "text"]] });
    p.ledger.markSeen(req.id, 5050);
    p.ledger.insertJob({ id: req.id, kind: 5050, customer: c.pubkey, requestJson: JSON.stringify(req), status: "payment-required", model: "llama3.2:latest", amountMsats: 5000, bolt11: "lnbcrt50n1late", paymentHash: "d".repeat(64), createdAt: Date.now() });
    // The payments work credits it and says so on the bus.
    expect(p.ledger.creditPayment({ id: "late-1", jobId: req.id, amountMsats: 5000, paymentHash: "d".repeat(64), source: "invoice", markJobPaid: true })).toBe(true);
    p.bus.publish(PaymentReceived, { paymentId: "late-1", amountMsats: 5000, jobId: req.id });
    const r = await c.waitForResult(req.id);
    expect(r.content).toBe(fakeAnswer("paid late"));
    expect(wallet.issued).toEqual([]);
  });

  test("an invoice from before the restart, paid while offline → an open dashboard sees the job paid at once", async () => {
    const wallet = scriptedWallet();
    const p = await provider({ offline: true, config: { pricing: { mode: "upfront", perJobMsats: 5000 } }, engine: { payments: wallet.payments } });
    const c = p.customer;
    const req = c.request({ inputs: [["paid while offline", "text"]] });
    p.ledger.markSeen(req.id, 5050);
    p.ledger.insertJob({ id: req.id, kind: 5050, customer: c.pubkey, requestJson: JSON.stringify(req), status: "payment-required", model: "llama3.2:latest", amountMsats: 5000, bolt11: "lnbcrt50n1offline", paymentHash: "e".repeat(64), createdAt: Date.now() });
    const told: JobView[] = [];
    p.bus.subscribe(JobStatusChanged, ({ job }) => told.push(job));
    // The wallet books it for the job (the row goes to 'paid' in the ledger) and says so on the bus.
    expect(p.ledger.creditPayment({ id: "offline-1", jobId: req.id, amountMsats: 5000, paymentHash: "e".repeat(64), source: "invoice", markJobPaid: true })).toBe(true);
    const updatedAt = p.ledger.getJob(req.id)!.updatedAt;
    p.bus.publish(PaymentReceived, { paymentId: "offline-1", amountMsats: 5000, jobId: req.id });
    expect(told.filter((j) => j.id === req.id)).toMatchObject([{ status: "paid", amountMsats: 5000 }]);
    expect(p.ledger.getJob(req.id)).toMatchObject({ status: "paid", updatedAt });
    // Still offline: nothing runs until the provider goes online, and then it does.
    await Bun.sleep(100);
    expect(fake.requests("/api/generate").map((r) => r.body?.prompt)).not.toContain("paid while offline");
    await p.engine.goOnline();
    expect((await c.waitForResult(req.id)).content).toBe(fakeAnswer("paid while offline"));
    expect(wallet.issued).toEqual([]);
  });

  test("an invoice left unpaid past its expiry by a restart → the job is marked expired, silently", async () => {
    const wallet = scriptedWallet();
    const p = await provider({ offline: true, config: { pricing: { mode: "upfront", perJobMsats: 5000, invoiceExpirySecs: 60 } }, engine: { payments: wallet.payments } });
    const c = p.customer;
    const old = c.request({ inputs: [["never paid", "text"]] });
    const fresh = c.request({ inputs: [["maybe paid soon", "text"]] });
    for (const [ev, age] of [[old, 120_000], [fresh, 10_000]] as const) {
      p.ledger.insertJob({ id: ev.id, kind: 5050, customer: c.pubkey, requestJson: JSON.stringify(ev), status: "payment-required", amountMsats: 5000, bolt11: `lnbcrt50n1${ev.id.slice(0, 4)}`, paymentHash: ev.id, createdAt: Date.now() - age, updatedAt: Date.now() - age });
    }
    const told: JobView[] = [];
    p.bus.subscribe(JobStatusChanged, ({ job }) => told.push(job));
    expect(await p.engine.recover()).toBe(0);
    expect(p.ledger.getJob(old.id)).toMatchObject({ status: "expired", error: "invoice expired unpaid" });
    expect(p.ledger.getJob(fresh.id)?.status).toBe("payment-required");
    // The dashboard hears of the expiry (the look at leftover invoices runs in the background).
    await until(() => told.some((j) => j.id === old.id), 2000, "the expiry on the bus");
    expect(told.filter((j) => j.id === old.id)).toMatchObject([{ status: "expired", error: "invoice expired unpaid" }]);
    expect(told.some((j) => j.id === fresh.id)).toBe(false);
    await Bun.sleep(100);
    expect(c.feedback(old.id)).toEqual([]);
  });
});
