// Moving money out of the wallet, tried the way an attacker would, through the real App and its
// real HTTP server (src/app.ts, src/server/server.ts). The wallet is the Lightning test double
// (test/fixtures/lightning-double.ts): a payment can't settle offline. The dashboard token is
// printed in headless logs, kept in browser history and sent as a cookie to every port of
// 127.0.0.1, so holding it must not be enough to drain the wallet: a send needs the vault password.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { bech32Encode } from "../../src/util/bolt11.ts";
import { bytesToWords } from "../fixtures/bolt11-encode.ts";
import { LightningDouble, type DoubleSendFault } from "../fixtures/lightning-double.ts";
import { startWalletTestApp, type TestApp } from "../fixtures/test-app.ts";

const DEAD = 9; // discard port: relays and Ollama are simply unreachable
const PASSWORD = "test-app-password"; // what startTestApp seals the vault with

/** For the describe block it is called in: starts the real App on `wallet` (startWalletTestApp),
 * connects `payee`, stops the App after. Returns a POST to the App's /api with the dashboard token and a JSON body. */
function walletApp(wallet: LightningDouble, payee: LightningDouble) {
  let t: TestApp;
  let base: string;
  let token: string;

  beforeAll(async () => {
    t = await startWalletTestApp(wallet);
    const url = new URL(t.app.url);
    base = url.origin;
    token = url.searchParams.get("token")!;
    await payee.connect();
  });
  afterAll(async () => {
    await t?.stop();
  });
  return (path: string, body: unknown) =>
    fetch(`${base}/api${path}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(body) });
}

describe("attacker holding only the dashboard token (real App, Lightning test double)", () => {
  const wallet = new LightningDouble({ balanceSats: 50_000, sendFeeSats: 2 });
  const payee = new LightningDouble();
  const post = walletApp(wallet, payee);

  test("attacker holding only the dashboard token sends the balance away: refused without the vault password", async () => {
    const bill = await payee.createInvoice({ amountMsats: 49_000_000, description: "drain", expirySecs: 600 });
    const prep = await post("/wallet/send/prepare", { destination: bill.bolt11 });
    expect(prep.status).toBe(200);
    const { id } = (await prep.json()) as { id: string };
    const res = await post("/wallet/send/confirm", { id });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain("the vault password is needed to send");
    expect(wallet.sent).toHaveLength(0);
    expect((await wallet.balance()).sats).toBe(50_000);
  });

  test("attacker holding the token guesses the password: each wrong guess refused, then rate-limited, nothing sent", async () => {
    const bill = await payee.createInvoice({ amountMsats: 1_000_000, description: "guess", expirySecs: 600 });
    const { id } = (await (await post("/wallet/send/prepare", { destination: bill.bolt11 })).json()) as { id: string };
    const codes: number[] = [];
    for (const guess of ["123456", "password", "hunter2", "letmein", "qwerty", "admin", "test-app-password"]) {
      codes.push((await post("/wallet/send/confirm", { id, password: guess })).status);
    }
    // Five wrong guesses are refused; from then on even the right one waits out the limit.
    expect(codes.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(codes.slice(5)).toEqual([429, 429]);
    expect(wallet.sent).toHaveLength(0);
    expect((await wallet.balance()).sats).toBe(50_000);
  });
});

describe("the owner, with the vault password (real App, Lightning test double)", () => {
  const wallet = new LightningDouble({ balanceSats: 5_000, sendFeeSats: 2 });
  const payee = new LightningDouble();
  const post = walletApp(wallet, payee);

  test("sends with the password; the answer says the payment's status and amounts", async () => {
    const bill = await payee.createInvoice({ amountMsats: 100_000, description: "coffee", expirySecs: 600 });
    const { id } = (await (await post("/wallet/send/prepare", { destination: bill.bolt11 })).json()) as { id: string };
    const res = await post("/wallet/send/confirm", { id, password: PASSWORD });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true, status: "completed", amountSats: 100, feeSats: 2 });
    expect(wallet.sent).toHaveLength(1);
    expect((await wallet.balance()).sats).toBe(4_898);
  });
});

// A send whose outcome is not known (it timed out after paying, or the network failed before it
// did) keeps its quote and idempotency key; the person retries the way they would (prepare the same
// destination and amount again, confirm again) and the wallet pays once. One case per destination
// type the wallet supports. The Lightning test double stands in for the network (it pays, then the
// call times out; it dedupes by quote id as the Breez SDK does by idempotencyKey).
describe("a send that times out and is retried pays once (real App, Lightning test double)", () => {
  const wallet = new LightningDouble({ balanceSats: 100_000, sendFeeSats: 3 });
  const payee = new LightningDouble();
  const send = walletApp(wallet, payee);
  const post = async (path: string, body: unknown) => {
    const res = await send(path, body);
    return { status: res.status, body: (await res.json()) as any };
  };

  const destinations: [string, () => Promise<{ destination: string; amountSats?: number }>][] = [
    ["bolt11", async () => ({ destination: (await payee.createInvoice({ amountMsats: 1_000_000, description: "bill", expirySecs: 600 })).bolt11 })],
    ["lightning address", async () => ({ destination: "alice@example.com", amountSats: 1_001 })],
    ["LNURL", async () => ({ destination: bech32Encode("lnurl", bytesToWords(Buffer.from("https://example.com/lnurlp/bob"))).toUpperCase(), amountSats: 1_002 })],
    ["Spark address", async () => ({ destination: (await payee.receiveAddress("spark")).address, amountSats: 1_003 })],
    ["bitcoin address", async () => ({ destination: (await payee.receiveAddress("bitcoin")).address, amountSats: 1_004 })],
  ];

  for (const fault of ["timeout-after-paying", "network-before-paying"] as DoubleSendFault[]) {
    for (const [kind, make] of destinations) {
      test(`${kind}: the send fails ambiguously (${fault}), the person prepares and confirms again: paid exactly once`, async () => {
        const req = await make();
        const before = (await wallet.balance()).sats;
        const paidBefore = wallet.sent.filter((s) => s.destination === req.destination).length;
        const first = await post("/wallet/send/prepare", req);
        expect(first.status).toBe(200);
        expect(first.body.retry).toBe(false);
        wallet.failNextSend(fault);
        const failed = await post("/wallet/send/confirm", { id: first.body.id, password: PASSWORD });
        expect(failed.status).toBe(503);
        expect(failed.body.error.message).toContain("may or may not have gone through");
        // The retry: the same destination and amount give back the same quote (its key).
        const again = await post("/wallet/send/prepare", req);
        expect(again.body).toMatchObject({ id: first.body.id, retry: true });
        const ok = await post("/wallet/send/confirm", { id: again.body.id, password: PASSWORD });
        expect(ok.status).toBe(200);
        expect(ok.body).toMatchObject({ ok: true, status: "completed", amountSats: first.body.amountSats, feeSats: 3 });
        expect(wallet.sent.filter((s) => s.destination === req.destination)).toHaveLength(paidBefore + 1);
        expect((await wallet.balance()).sats).toBe(before - first.body.amountSats - 3);
        // Resolved: a new send of the same intent is a new payment (a person may pay twice on purpose).
        const next = await post("/wallet/send/prepare", req);
        expect(next.body.id).not.toBe(first.body.id);
        expect(next.body.retry).toBe(false);
      });
    }
  }

  test("a pending send is reported pending (never as sent); sending it again finds the same payment, pays nothing more", async () => {
    const req = { destination: "carol@example.com", amountSats: 500 };
    const before = (await wallet.balance()).sats;
    const q = await post("/wallet/send/prepare", req);
    wallet.failNextSend("pending");
    const r = await post("/wallet/send/confirm", { id: q.body.id, password: PASSWORD });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ ok: true, status: "pending", amountSats: 500 });
    const again = await post("/wallet/send/prepare", req);
    expect(again.body).toMatchObject({ id: q.body.id, retry: true });
    await post("/wallet/send/confirm", { id: again.body.id, password: PASSWORD });
    expect(wallet.sent.filter((s) => s.destination === req.destination)).toHaveLength(1);
    expect((await wallet.balance()).sats).toBe(before - 503);
  });

  test("a failed send is reported failed (ok false) and takes nothing", async () => {
    const req = { destination: "dave@example.com", amountSats: 700 };
    const before = (await wallet.balance()).sats;
    const q = await post("/wallet/send/prepare", req);
    wallet.failNextSend("failed");
    const r = await post("/wallet/send/confirm", { id: q.body.id, password: PASSWORD });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ ok: false, status: "failed", amountSats: 700 });
    expect((await wallet.balance()).sats).toBe(before);
  });
});

// The same, across a restart: the first try timed out after paying, compute stopped, and the
// person sends the same thing again from a new run. The double keeps what it paid by key across the
// two runs, as the Breez SDK keeps its payments in the wallet's storage.
describe("a send that times out, compute restarts, the person sends it again: paid once (real App, Lightning test double)", () => {
  test("paid exactly once; the new run's quote is marked as a retry", async () => {
    const { mkdtempSync, rmSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { App } = await import("../../src/app.ts");
    const { Vault } = await import("../../src/identity/vault.ts");
    const { paths } = await import("../../src/paths.ts");
    const dataDir = mkdtempSync(join(tmpdir(), "compute-send-restart-"));
    await Vault.create(paths(dataDir).vault, { mnemonic: "leader monkey parrot ring guide accident before fence cannon height naive bean", passphrase: "" }, PASSWORD, { scrypt: { N: 1024, r: 8, p: 1 } });
    const wallet = new LightningDouble({ balanceSats: 10_000, sendFeeSats: 1 });
    const start = async () => {
      const app = await App.start({ dataDir, env: {}, password: PASSWORD, flags: { port: 0, logLevel: "error", relays: [`ws://127.0.0.1:${DEAD}`], ollamaUrl: `http://127.0.0.1:${DEAD}`, paymentMode: "free" }, walletFactory: () => wallet });
      for (let i = 0; i < 100 && app.controller.snapshot().wallet.state !== "ready"; i++) await Bun.sleep(20);
      return app;
    };
    try {
      const req = { destination: "zoe@example.com", amountSats: 1_234 };
      const first = await start();
      const q = await first.controller.walletPrepareSend(req.destination, req.amountSats);
      wallet.failNextSend("timeout-after-paying");
      await expect(first.controller.walletConfirmSend(q.id, PASSWORD)).rejects.toThrow("may or may not have gone through");
      await first.stop();

      const second = await start();
      const again = await second.controller.walletPrepareSend(req.destination, req.amountSats);
      expect(again.retry).toBe(true);
      const sent = await second.controller.walletConfirmSend(again.id, PASSWORD);
      expect(sent.status).toBe("completed");
      expect(wallet.sent.filter((s) => s.destination === req.destination)).toHaveLength(1);
      expect((await wallet.balance()).sats).toBe(10_000 - 1_235);
      // Resolved: the next send of the same is a new payment.
      expect((await second.controller.walletPrepareSend(req.destination, req.amountSats)).retry).toBe(false);
      await second.stop();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 30_000);
});
