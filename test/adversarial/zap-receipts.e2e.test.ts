// Zap receipts (NIP-57) tried the way an attacker would, through the real App (App.start on a data
// dir with an identity), a real relay, the fake Ollama and customers built from nostr-tools alone.
// The wallet is the Lightning test double (test/fixtures/lightning-double.ts): real, decodable
// BOLT #11 invoices, the test plays the payers, because Lightning settlement can't happen offline.
//
// A zap receipt is only a claim: whoever publishes it writes its bolt11. What may pay a job is a
// payment OUR wallet received whose own record (the invoice as the wallet stores it, or the zap
// request kept with it) commits to the zap request naming that job.
import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { finalizeEvent, generateSecretKey, getPublicKey, type Event } from "nostr-tools/pure";
import type { App } from "../../src/app.ts";
import { decodeBolt11 } from "../../src/util/bolt11.ts";
import type { Customer, Reply } from "../fixtures/customer.ts";
import { LightningDouble } from "../fixtures/lightning-double.ts";
import { fakeAnswer, type FakeOllama } from "../fixtures/ollama-server.ts";
import type { TestRelay } from "../fixtures/relay.ts";
import { fakeOllamaPerFile, world as sharedWorld } from "./world.ts";

const PRICE = 21_000;

let fake: FakeOllama;
const cleanups: Array<() => unknown> = [];

fakeOllamaPerFile(cleanups, (f) => (fake = f));

interface World {
  relay: TestRelay;
  customer: Customer;
  attacker: Customer;
  wallet: LightningDouble;
  /** The attacker's own Lightning node: it signs whatever invoice they like. */
  attackerNode: LightningDouble;
  app: App;
  pubkey: string;
  prompts(): string[];
}

/** The real App in upfront mode with a Lightning address (zaps on), a relay, a customer and an attacker. */
async function world(opts: { payUrl?: string } = {}): Promise<World> {
  const wallet = new LightningDouble();
  wallet.lnurlPayUrl = opts.payUrl ?? null;
  const attackerNode = new LightningDouble();
  await attackerNode.connect();
  const w = await sharedWorld(fake, cleanups, wallet, { mode: "upfront", priceMsats: PRICE });
  const attacker = await w.newCustomer();
  const app = await w.start({ online: false });
  await app.controller.walletSetLightningAddress("provider");
  await app.controller.setOnline(true);
  return { relay: w.relay, customer: w.customer, attacker, wallet, attackerNode, app, pubkey: w.pubkey, prompts: w.prompts };
}

/** A job by `who`, up to its payment-required feedback (the event a zap names). */
async function jobDue(w: World, who: Customer, prompt: string): Promise<{ id: string; due: Reply }> {
  const req = who.request({ inputs: [[prompt, "text"]], bidMsats: 50_000 });
  await who.publish(req);
  return { id: req.id, due: await who.waitForStatus(req.id, "payment-required") };
}

/** A signed zap request (kind 9734) by `who` naming our event `eventId`, for `msats`. */
function zapRequest(who: Customer, provider: string, eventId: string, msats = PRICE): Event {
  return who.sign({ kind: 9734, tags: [["p", provider], ["e", eventId], ["amount", String(msats)], ["relays", ...who.relays]], content: "" });
}

/** A kind 9735 receipt carrying `bolt11` and the zap request, signed by `signer` (default: a fresh key). */
function receipt(request: Event, bolt11: string, provider: string, signer: Uint8Array = generateSecretKey()): Event {
  const e = request.tags.find((t) => t[0] === "e")![1]!;
  return finalizeEvent({ kind: 9735, created_at: Math.floor(Date.now() / 1000), tags: [["p", provider], ["e", e], ["bolt11", bolt11], ["description", JSON.stringify(request)]], content: "" }, signer);
}

/** Waits for an async condition (the App's ledger reads are async). */
async function eventually(pred: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`${what} not met within ${ms} ms`);
    await Bun.sleep(20);
  }
}

const sha256 = (s: string) => createHash("sha256").update(s, "utf8").digest("hex");

/** The attacker's forgery: their own zap request naming their job, in a bolt11 of their own node that reuses `paymentHash`. */
function forge(w: World, paymentHash: string, eventId: string, msats = PRICE) {
  const request = zapRequest(w.attacker, w.pubkey, eventId, msats);
  const bolt11 = w.attackerNode.forgeInvoice({ paymentHash, amountMsats: msats, descriptionHash: sha256(JSON.stringify(request)) });
  return receipt(request, bolt11, w.pubkey);
}

describe("forged zap receipts (real App, Lightning test double)", () => {
  test("attacker wraps the payment hash of our own deposit in a self-made bolt11 committing to their zap request: job not run, deposit not relabelled", async () => {
    const w = await world();
    // The owner tops the wallet up (RECEIVE): booked as a deposit, not earnings.
    const deposit = await w.app.controller.walletReceive(PRICE / 1000);
    const paid = w.wallet.settle(deposit.bolt11!);
    await eventually(async () => (await w.app.controller.walletPayments()).length === 1, 3000, "deposit booked");
    const before = await w.app.controller.walletPayments();
    expect(before).toEqual([expect.objectContaining({ id: paid.id, jobId: null, source: "other" })]);
    const earned = w.app.controller.snapshot().earnings.allSats;

    // The attacker's job, and their receipt: the deposit's payment hash in their own invoice.
    const job = await jobDue(w, w.attacker, "run me for free");
    await w.relay.inject(forge(w, decodeBolt11(deposit.bolt11!).paymentHash, job.due.event.id));
    await Bun.sleep(1_500);

    expect(w.app.controller.snapshot().jobs.find((j) => j.id === job.id)?.status).toBe("payment-required");
    expect(w.attacker.results(job.id)).toEqual([]);
    expect(w.prompts()).toEqual([]);
    expect(await w.app.controller.walletPayments()).toEqual(before);
    expect(w.app.controller.snapshot().earnings.allSats).toBe(earned);
  });

  test("attacker copies the payment hash from someone else's public zap receipt (a zap of no job, booked as a plain receive) into a self-made bolt11 naming their own job: job not run, the zap not relabelled", async () => {
    const w = await world();
    // Someone zaps an event of ours that belongs to no job (say our announcement); the LNURL
    // server's invoice commits to their zap request; its receipt is public.
    const fan = zapRequest(w.customer, w.pubkey, "ab".repeat(32), 5_000);
    const inv = await w.wallet.zapInvoice(JSON.stringify(fan), 5_000);
    const paid = w.wallet.settle(inv.bolt11);
    const publicReceipt = receipt(fan, inv.bolt11, w.pubkey);
    await w.relay.inject(publicReceipt);
    await eventually(async () => (await w.app.controller.walletPayments()).length === 1, 4000, "the fan's zap booked after the grace");
    const before = await w.app.controller.walletPayments();
    expect(before).toEqual([expect.objectContaining({ id: paid.id, jobId: null })]);

    // The attacker reads the public receipt and reuses its payment hash, at the fan's amount.
    const job = await jobDue(w, w.attacker, "the fan paid for me");
    const hash = decodeBolt11(publicReceipt.tags.find((t) => t[0] === "bolt11")![1]!).paymentHash;
    await w.relay.inject(forge(w, hash, job.due.event.id, 5_000));
    // And again at the job's price, in case the amount is what is checked.
    await w.relay.inject(forge(w, hash, job.due.event.id, PRICE));
    await Bun.sleep(1_500);

    expect(w.app.controller.snapshot().jobs.find((j) => j.id === job.id)?.status).toBe("payment-required");
    expect(w.prompts()).toEqual([]);
    expect(await w.app.controller.walletPayments()).toEqual(before);
  });

  test("attacker races a zap we are still holding for its receipt: copies its payment hash into a self-made bolt11 naming their own job and gets there first: their job not run, the zap still pays its own job", async () => {
    const w = await world();
    const victim = await jobDue(w, w.customer, "the victim's job");
    const mine = await jobDue(w, w.attacker, "the attacker's job");
    // The victim's zap is paid to our wallet; its receipt is on its way.
    const request = zapRequest(w.customer, w.pubkey, victim.due.event.id);
    const inv = await w.wallet.zapInvoice(JSON.stringify(request), PRICE);
    const paid = w.wallet.settle(inv.bolt11);
    // The attacker's forgery arrives first.
    await w.relay.inject(forge(w, inv.paymentHash, mine.due.event.id));
    await Bun.sleep(600);
    await w.relay.inject(receipt(request, inv.bolt11, w.pubkey));

    const result = await w.customer.waitForResult(victim.id, 4000);
    expect(result.content).toBe(fakeAnswer("the victim's job"));
    await Bun.sleep(300);
    expect(w.app.controller.snapshot().jobs.find((j) => j.id === mine.id)?.status).toBe("payment-required");
    expect(w.attacker.results(mine.id)).toEqual([]);
    expect(w.prompts()).toEqual(["the victim's job"]);
    expect((await w.app.controller.walletPayments()).map((p) => [p.id, p.jobId, p.source])).toEqual([[paid.id, victim.id, "zap"]]);
  });

  test("attacker pays a cheap zap of their job and publishes a receipt whose bolt11 claims the full price: only what our wallet received counts, the job is not paid", async () => {
    const w = await world();
    const job = await jobDue(w, w.attacker, "pay one sat");
    // Their zap request says the full price; the invoice our wallet made (the LNURL server asked
    // for 1 sat) and the payment say 1 sat.
    const request = zapRequest(w.attacker, w.pubkey, job.due.event.id, PRICE);
    const inv = await w.wallet.zapInvoice(JSON.stringify(request), 1_000);
    w.wallet.settle(inv.bolt11);
    const bolt11 = w.attackerNode.forgeInvoice({ paymentHash: inv.paymentHash, amountMsats: PRICE, descriptionHash: sha256(JSON.stringify(request)) });
    await w.relay.inject(receipt(request, bolt11, w.pubkey));
    await Bun.sleep(2_000);
    expect(w.app.controller.snapshot().jobs.find((j) => j.id === job.id)?.status).toBe("payment-required");
    expect(w.prompts()).toEqual([]);
  });

  test("a zap whose invoice holds only the description hash (as LNURL servers make them) still pays its job, receipt after payment", async () => {
    const w = await world();
    const job = await jobDue(w, w.customer, "zapped the usual way");
    const request = zapRequest(w.customer, w.pubkey, job.due.event.id);
    const inv = await w.wallet.zapInvoice(JSON.stringify(request), PRICE);
    const paid = w.wallet.settle(inv.bolt11);
    await w.relay.inject(receipt(request, inv.bolt11, w.pubkey));
    expect((await w.customer.waitForResult(job.id, 4000)).content).toBe(fakeAnswer("zapped the usual way"));
    expect((await w.app.controller.walletPayments()).map((p) => [p.id, p.jobId, p.source])).toEqual([[paid.id, job.id, "zap"]]);
  });
});

describe("the zapper's key (NIP-57 nostrPubkey of our LNURL-pay endpoint, served on 127.0.0.1)", () => {
  test("attacker signs a receipt for a real zap of their job with their own key while our endpoint names the zapper: ignored; the zapper's own receipt pays the job", async () => {
    const zapper = generateSecretKey();
    let hits = 0;
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch() {
        hits++;
        return Response.json({ tag: "payRequest", callback: "http://127.0.0.1/cb", minSendable: 1000, maxSendable: 1e9, metadata: "[]", allowsNostr: true, nostrPubkey: getPublicKey(zapper) });
      },
    });
    cleanups.push(() => server.stop(true));
    const w = await world({ payUrl: `http://127.0.0.1:${server.port}/.well-known/lnurlp/provider` });
    const job = await jobDue(w, w.customer, "zapper signed");
    const request = zapRequest(w.customer, w.pubkey, job.due.event.id);
    const inv = await w.wallet.zapInvoice(JSON.stringify(request), PRICE);
    w.wallet.settle(inv.bolt11);
    // A receipt for this very payment, but not from our LNURL server: not a receipt of ours.
    await w.relay.inject(receipt(request, inv.bolt11, w.pubkey, generateSecretKey()));
    await Bun.sleep(400);
    expect(w.app.controller.snapshot().jobs.find((j) => j.id === job.id)?.status).toBe("payment-required");
    // The zapper's receipt (before the grace runs out) pays it.
    await w.relay.inject(receipt(request, inv.bolt11, w.pubkey, zapper));
    expect((await w.customer.waitForResult(job.id, 4000)).content).toBe(fakeAnswer("zapper signed"));
    expect(hits).toBe(1); // learned once, then cached
  });
});
