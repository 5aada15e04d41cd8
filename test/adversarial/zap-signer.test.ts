// Who may sign our zap receipts (NIP-57: the `nostrPubkey` of our Lightning address's LNURL-pay
// endpoint, here a local HTTP server on 127.0.0.1), and what the wallet's own record must say,
// against Payments (src/wallet/payments.ts) with a real ledger file and the Lightning test double
// (test/fixtures/lightning-double.ts: real BOLT #11 invoices; Lightning settlement can't happen offline).
import { afterEach, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { finalizeEvent, generateSecretKey, getPublicKey, type Event } from "nostr-tools/pure";
import { readZapClaim, walletCommitsToZap, type ZapClaim } from "../../src/nostr/nip57.ts";
import { LightningDouble } from "../fixtures/lightning-double.ts";
import { zapPayments } from "./zap-payments.ts";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const US = getPublicKey(generateSecretKey());
const hex = (n: number) => randomBytes(n).toString("hex");
const sha256 = (s: string) => createHash("sha256").update(s, "utf8").digest("hex");

/** A local LNURL-pay endpoint; `answer` decides each reply. Counts its hits. */
function lnurlServer(answer: () => Response | Promise<Response>) {
  const s = { hits: 0, url: "" };
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch() {
      s.hits++;
      return answer();
    },
  });
  s.url = `http://127.0.0.1:${server.port}/.well-known/lnurlp/provider`;
  cleanups.push(() => server.stop(true));
  return s;
}

const setup = (payUrl: string | null, clock?: { t: number }) => zapPayments(cleanups, "zap-signer-", { payUrl, now: clock ? () => clock.t : undefined });

function zapRequest(msats = 21_000): Event {
  return finalizeEvent({ kind: 9734, created_at: Math.floor(Date.now() / 1000), tags: [["p", US], ["e", hex(32)], ["amount", String(msats)], ["relays", "ws://127.0.0.1:1"]], content: "" }, generateSecretKey());
}

function claim(request: Event, bolt11: string, signer: Uint8Array = generateSecretKey()): ZapClaim {
  const ev = finalizeEvent(
    { kind: 9735, created_at: Math.floor(Date.now() / 1000), tags: [["p", US], ["e", request.tags.find((t) => t[0] === "e")![1]!], ["bolt11", bolt11], ["description", JSON.stringify(request)]], content: "" },
    signer,
  );
  const r = readZapClaim(ev, US);
  if (!r.ok) throw new Error(r.reason);
  return r.claim;
}

describe("the receipt's signer (NIP-57 nostrPubkey, LNURL endpoint on 127.0.0.1)", () => {
  test("attacker signs 300 receipts with keys of their own while our endpoint names the zapper: all refused without one wallet read; the endpoint is asked once", async () => {
    const zapper = generateSecretKey();
    const lnurl = lnurlServer(() => Response.json({ tag: "payRequest", allowsNostr: true, nostrPubkey: getPublicKey(zapper), callback: "http://127.0.0.1/cb", minSendable: 1000, maxSendable: 1e9, metadata: "[]" }));
    const { wallet, payments, job } = await setup(lnurl.url);
    const jobId = job();
    const request = zapRequest();
    const inv = await wallet.zapInvoice(JSON.stringify(request), 21_000);
    const reads = wallet.pageReads;
    for (let i = 0; i < 300; i++) {
      expect(await payments.zapReceived({ ...claim(request, inv.bolt11), paymentHash: hex(32) }, jobId)).toBe("rejected");
    }
    expect(wallet.pageReads - reads).toBe(0);
    expect(lnurl.hits).toBe(1);
    // The zapper's own receipt is looked up (and waits for its payment).
    expect(await payments.zapReceived(claim(request, inv.bolt11, zapper), jobId)).toBe("waiting");
    wallet.settle(inv.bolt11);
    expect(payments["opts"].ledger.getJob(jobId)?.status).toBe("paid");
  }, 60_000);

  test("our endpoint refuses connections, answers junk or names no key: the wallet's record alone decides; a failed read is retried after a minute", async () => {
    const clock = { t: Date.now() };
    let mode: "junk" | "nokey" | "down" = "down";
    const lnurl = lnurlServer(() => {
      if (mode === "down") return new Response("bad gateway", { status: 502 });
      if (mode === "junk") return new Response("<html>not json</html>", { headers: { "content-type": "text/html" } });
      return Response.json({ tag: "payRequest", allowsNostr: false });
    });
    const { wallet, payments, ledger, job } = await setup(lnurl.url, clock);
    for (const m of ["down", "junk", "nokey"] as const) {
      mode = m;
      clock.t += 61_000;
      const jobId = job();
      const request = zapRequest();
      const inv = await wallet.zapInvoice(JSON.stringify(request), 21_000);
      wallet.settle(inv.bolt11);
      expect(await payments.zapReceived(claim(request, inv.bolt11), jobId)).toBe("credited");
      expect(ledger.getJob(jobId)?.status).toBe("paid");
    }
    expect(lnurl.hits).toBe(3);
    // Nothing listens here: refused at once, and still no hang.
    const closed = await setup("http://127.0.0.1:9/.well-known/lnurlp/provider");
    const jobId = closed.job();
    const request = zapRequest();
    const inv = await closed.wallet.zapInvoice(JSON.stringify(request), 21_000);
    closed.wallet.settle(inv.bolt11);
    expect(await closed.payments.zapReceived(claim(request, inv.bolt11), jobId)).toBe("credited");
  }, 60_000);
});

describe("what the wallet's own record must say (walletCommitsToZap, pure)", () => {
  const request = JSON.stringify(zapRequest(21_000));
  const node = new LightningDouble();

  test("the stored invoice's description hash, its description, or the zap request the wallet kept: each binds; anything else doesn't", () => {
    const hashed = node.forgeInvoice({ paymentHash: hex(32), amountMsats: 21_000, descriptionHash: sha256(request) });
    const plain = node.forgeInvoice({ paymentHash: hex(32), amountMsats: 21_000, description: request });
    const other = node.forgeInvoice({ paymentHash: hex(32), amountMsats: 21_000, description: "compute: deposit" });
    expect(walletCommitsToZap({ amountMsats: 21_000, bolt11: hashed }, request)).toBe(true);
    expect(walletCommitsToZap({ amountMsats: 21_000, bolt11: plain }, request)).toBe(true);
    expect(walletCommitsToZap({ amountMsats: 21_000, bolt11: null, zapRequest: request }, request)).toBe(true);
    expect(walletCommitsToZap({ amountMsats: 21_000, bolt11: other }, request)).toBe(false);
    expect(walletCommitsToZap({ amountMsats: 21_000, bolt11: null }, request)).toBe(false);
    expect(walletCommitsToZap({ amountMsats: 21_000, bolt11: null, zapRequest: request.replace("21000", "21001") }, request)).toBe(false);
    // A zap request differing by one byte has another hash.
    expect(walletCommitsToZap({ amountMsats: 21_000, bolt11: hashed }, request + " ")).toBe(false);
  });

  test("the amount: what was paid must cover the zap request's amount (to the whole sat) and the stored invoice's", () => {
    const hashed = node.forgeInvoice({ paymentHash: hex(32), amountMsats: 21_000, descriptionHash: sha256(request) });
    expect(walletCommitsToZap({ amountMsats: 20_000, bolt11: hashed }, request)).toBe(false);
    expect(walletCommitsToZap({ amountMsats: 1_000, bolt11: null, zapRequest: request }, request)).toBe(false);
    expect(walletCommitsToZap({ amountMsats: 22_000, bolt11: null, zapRequest: request }, request)).toBe(true);
    const odd = JSON.stringify(zapRequest(21_500));
    expect(walletCommitsToZap({ amountMsats: 21_000, bolt11: null, zapRequest: odd }, odd)).toBe(true);
    expect(walletCommitsToZap({ amountMsats: 20_999, bolt11: null, zapRequest: odd }, odd)).toBe(false);
  });
});
