import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { secp256k1 } from "@noble/curves/secp256k1";
import { AppError } from "../../src/errors.ts";
import { decodeBolt11 } from "../../src/util/bolt11.ts";
import type { ReceivedPayment } from "../../src/wallet/wallet.ts";
import { LightningDouble } from "../fixtures/lightning-double.ts";

async function connected(opts: ConstructorParameters<typeof LightningDouble>[0] = {}) {
  const d = new LightningDouble(opts);
  await d.connect();
  return d;
}

describe("LightningDouble invoices", () => {
  test("are real regtest BOLT #11 invoices: amount, hash, description, expiry, signature by the node key", async () => {
    const d = await connected();
    const inv = await d.createInvoice({ amountMsats: 21_000, description: "job 7", expirySecs: 600 });
    expect(inv.bolt11).toStartWith("lnbcrt210n1");
    const dec = decodeBolt11(inv.bolt11);
    expect(dec.paymentHash).toBe(inv.paymentHash);
    expect(dec.amountMsats).toBe(21_000);
    expect(inv.amountMsats).toBe(21_000);
    expect(dec.description).toBe("job 7");
    expect(dec.expiresAt).toBe(inv.expiresAt);
    expect(dec.paymentSecret).toMatch(/^[0-9a-f]{64}$/);
    const sig = secp256k1.Signature.fromCompact(dec.signature.slice(0, 128)).addRecoveryBit(parseInt(dec.signature.slice(128), 16));
    expect(sig.recoverPublicKey(Buffer.from(dec.signingHash, "hex")).toHex(true)).toBe(d.nodePubkey);
    // The payment hash commits to a preimage the double keeps.
    const issued = d.issued().find((i) => i.paymentHash === inv.paymentHash)!;
    expect(createHash("sha256").update(Buffer.from(issued.preimage, "hex")).digest("hex")).toBe(inv.paymentHash);
  });

  test("round amounts up to whole sats and allow amountless invoices", async () => {
    const d = await connected();
    expect((await d.createInvoice({ amountMsats: 10_500, description: "", expirySecs: 60 })).amountMsats).toBe(11_000);
    const free = await d.createInvoice({ description: "tip", expirySecs: 60 });
    expect(free.amountMsats).toBeNull();
    expect(decodeBolt11(free.bolt11).amountMsats).toBeNull();
  });
});

describe("LightningDouble payments", () => {
  test("settle fires onPayment once, lands in listPayments and the balance", async () => {
    let now = 1_700_000_000_000;
    const d = await connected({ now: () => now });
    const seen: ReceivedPayment[] = [];
    const off = d.onPayment((p) => seen.push(p));
    const inv = await d.createInvoice({ amountMsats: 5_000, description: "x", expirySecs: 600 });
    now += 1000;
    const p = d.settle(inv.bolt11);
    expect(seen).toEqual([p]);
    expect(p).toMatchObject({ amountMsats: 5_000, bolt11: inv.bolt11, paymentHash: inv.paymentHash, receivedAt: now });
    expect(await d.listPayments()).toEqual([p]);
    expect(await d.balance()).toEqual({ sats: 5 });
    expect(() => d.settle(inv.paymentHash)).toThrow(AppError); // paid once only
    expect(seen.length).toBe(1);
    off();
    d.emitDuplicate();
    expect(seen.length).toBe(1);
  });

  test("settleWhileDown only shows in listPayments; emitDuplicate repeats an announcement", async () => {
    const d = await connected();
    const seen: string[] = [];
    d.onPayment((p) => seen.push(p.id));
    const a = await d.createInvoice({ amountMsats: 1_000, description: "a", expirySecs: 600 });
    const b = await d.createInvoice({ amountMsats: 2_000, description: "b", expirySecs: 600 });
    const pa = d.settleWhileDown(a.paymentHash);
    expect(seen).toEqual([]);
    const pb = d.settle("lightning:" + b.bolt11);
    d.emitDuplicate(pb.id);
    d.emitDuplicate(pa.id);
    expect(seen).toEqual([pb.id, pb.id, pa.id]);
    expect((await d.listPayments()).map((p) => p.id)).toEqual([pa.id, pb.id]);
  });

  test("listPayments since is inclusive at one-second granularity", async () => {
    const now = 1_700_000_000_500;
    const d = await connected({ now: () => now });
    const inv = await d.createInvoice({ amountMsats: 1_000, description: "a", expirySecs: 600 });
    d.settle(inv.bolt11);
    expect((await d.listPayments({ since: now + 400 })).length).toBe(1);
    expect((await d.listPayments({ since: now + 1000 })).length).toBe(0);
  });

  test("expired invoices can't be settled unless forced; amountless ones need an amount", async () => {
    let now = 1_700_000_000_000;
    const d = await connected({ now: () => now });
    const inv = await d.createInvoice({ amountMsats: 1_000, description: "a", expirySecs: 60 });
    now += 61_000;
    expect(() => d.settle(inv.bolt11)).toThrow(/expired/);
    expect(d.settle(inv.bolt11, { force: true }).amountMsats).toBe(1_000);
    const free = await d.createInvoice({ description: "tip", expirySecs: 60 });
    expect(() => d.settle(free.bolt11)).toThrow(/amountMsats/);
    expect(d.settle(free.bolt11, { amountMsats: 7_000 }).amountMsats).toBe(7_000);
    expect(() => d.settle("ff".repeat(32))).toThrow(/did not issue/);
  });

  test("onSynced subscribers hear emitSynced", async () => {
    const d = await connected();
    let n = 0;
    const off = d.onSynced(() => n++);
    d.emitSynced();
    off();
    d.emitSynced();
    expect(n).toBe(1);
  });
});

describe("LightningDouble failure modes", () => {
  test("fail rejects every call with an AppError; none restores", async () => {
    const d = await connected();
    d.setFailing("fail");
    await expect(d.createInvoice({ amountMsats: 1000, description: "", expirySecs: 60 })).rejects.toBeInstanceOf(AppError);
    await expect(d.listPayments()).rejects.toThrow(/simulated failure/);
    await expect(d.connect()).rejects.toBeInstanceOf(AppError);
    d.setFailing("none");
    expect(await d.balance()).toEqual({ sats: 0 });
  });

  test("hang never settles until released", async () => {
    const d = await connected();
    d.setFailing("hang");
    let settled: string | null = null;
    const p = d.balance().then(
      () => (settled = "resolved"),
      () => (settled = "rejected"),
    );
    await Bun.sleep(30);
    expect(settled).toBeNull();
    d.setFailing("none");
    await p;
    expect(settled as string | null).toBe("rejected");
  });

  test("calls before connect say the wallet is not connected", async () => {
    const d = new LightningDouble();
    await expect(d.balance()).rejects.toThrow(/not connected/);
    expect(d.view().state).toBe("connecting");
    await d.connect();
    expect(d.view()).toMatchObject({ state: "ready", balanceSats: 0 });
  });
});

describe("LightningDouble sending and addresses", () => {
  test("prepareSend quotes, send pays once and debits amount + fee", async () => {
    const payee = await connected();
    const d = await connected({ balanceSats: 100, sendFeeSats: 2 });
    const inv = await payee.createInvoice({ amountMsats: 30_000, description: "x", expirySecs: 600 });
    const quote = await d.prepareSend({ destination: inv.bolt11 });
    expect(quote).toMatchObject({ destinationType: "bolt11", amountSats: 30, feeSats: 2 });
    const paid = await d.send(quote);
    expect(paid).toMatchObject({ status: "completed", amountSats: 30, feeSats: 2 });
    expect(await d.balance()).toEqual({ sats: 68 });
    // The same quote (its id is the idempotency key) again: the same payment, nothing paid twice.
    expect(await d.send(quote.id)).toEqual(paid);
    expect(await d.balance()).toEqual({ sats: 68 });
    await expect(d.send("no-such-quote")).rejects.toMatchObject({ code: "not_found" });
    const toAddress = await d.prepareSend({ destination: "bob@example.com", amountSats: 10 });
    expect(toAddress.destinationType).toBe("lightning_address");
    await expect(d.prepareSend({ destination: "bob@example.com" })).rejects.toMatchObject({ code: "invalid_input" });
    const big = await d.prepareSend({ destination: "bob@example.com", amountSats: 1000 });
    await expect(d.send(big)).rejects.toMatchObject({ code: "invalid_input" });
  });

  test("lightning address register / get / delete", async () => {
    const d = await connected();
    expect(await d.getLightningAddress()).toBeNull();
    expect((await d.registerLightningAddress("Alice")).address).toBe("alice@double.invalid");
    expect(d.view().lightningAddress).toBe("alice@double.invalid");
    await d.deleteLightningAddress();
    expect(await d.getLightningAddress()).toBeNull();
    expect((await d.receiveAddress()).address).toStartWith("sparkrt1");
  });
});
