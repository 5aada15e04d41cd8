// nip57.ts: zap receipts as they arrive (parseZapReceipt) and the amount in an invoice's
// human-readable part (bolt11AmountMsats). readZapClaim is driven in test/wallet/payments.test.ts
// and test/adversarial/zap-*.test.ts.
import { describe, expect, test } from "bun:test";
import { finalizeEvent, generateSecretKey, getPublicKey } from "nostr-tools/pure";
import { JOB_REQUEST_TEXT, ZAP_RECEIPT, ZAP_REQUEST } from "../../src/nostr/kinds.ts";
import { bolt11AmountMsats, parseZapReceipt } from "../../src/nostr/nip57.ts";
import type { NostrEvent } from "../../src/nostr/nip90.ts";

function keys(): { sk: Uint8Array; pk: string } {
  const sk = generateSecretKey();
  return { sk, pk: getPublicKey(sk) };
}
const [provider, customer, other] = [keys(), keys(), keys()];

function request(tags: string[][]): NostrEvent {
  return finalizeEvent({ kind: JOB_REQUEST_TEXT, created_at: 1_750_000_000, tags, content: "" }, customer.sk) as NostrEvent;
}

describe("zap receipts", () => {
  test("bolt11 amounts from the human-readable part (BOLT-11 examples)", () => {
    expect(bolt11AmountMsats("lnbc2500u1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqq")).toBe(250_000_000);
    expect(bolt11AmountMsats("lnbc20m1pvjluezpp5qqq")).toBe(2_000_000_000);
    expect(bolt11AmountMsats("lnbc9678785340p1pwmna7lpp5gc3xfm08u")).toBe(967_878_534);
    expect(bolt11AmountMsats("LNTB20M1PVJLUEZ")).toBe(2_000_000_000);
    expect(bolt11AmountMsats("lnbcrt50u1pqqq")).toBe(5_000_000);
    expect(bolt11AmountMsats("lnbc100n1pqqq")).toBe(10_000);
    expect(bolt11AmountMsats("lnbc1pvjluezpp5qqqsyqcyq5rqwzqfqqq")).toBeNull(); // no amount
    expect(bolt11AmountMsats("lnbc11p1pqqq")).toBeNull(); // pico not a multiple of 10
    expect(bolt11AmountMsats("hello")).toBeNull();
    expect(bolt11AmountMsats("lnxx10u1qqq")).toBeNull();
  });

  const zapped = "d".repeat(64);
  function receipt(opts: { amount?: string; bolt11?: string; eOnReceipt?: boolean; zapRequest?: unknown; description?: string }) {
    const zapReq =
      opts.zapRequest ??
      finalizeEvent(
        {
          kind: ZAP_REQUEST,
          created_at: 1,
          content: "",
          tags: [["p", provider.pk], ["e", zapped], ["relays", "wss://r"], ...(opts.amount ? [["amount", opts.amount]] : [])],
        },
        customer.sk,
      );
    const tags: string[][] = [["p", provider.pk]];
    if (opts.eOnReceipt !== false) tags.push(["e", zapped]);
    if (opts.bolt11 !== undefined) tags.push(["bolt11", opts.bolt11]);
    tags.push(["description", opts.description ?? JSON.stringify(zapReq)]);
    return finalizeEvent({ kind: ZAP_RECEIPT, created_at: 2, tags, content: "" }, other.sk);
  }

  test("reads event, invoice, amount and sender", () => {
    const r = receipt({ amount: "10000", bolt11: "lnbc100n1pqqq" });
    expect(parseZapReceipt(r)).toEqual({
      eventId: zapped,
      bolt11: "lnbc100n1pqqq",
      amountMsats: 10_000,
      sender: customer.pk,
      recipient: provider.pk,
      receiptId: r.id,
    });
  });

  test("the amount may come from either side; the e tag from the zap request", () => {
    expect(parseZapReceipt(receipt({ bolt11: "lnbc100n1pqqq" }))?.amountMsats).toBe(10_000);
    expect(parseZapReceipt(receipt({ amount: "21000", bolt11: "lnbc1pqqq" }))?.amountMsats).toBe(21_000);
    expect(parseZapReceipt(receipt({ amount: "10000", bolt11: "lnbc100n1pqqq", eOnReceipt: false }))?.eventId).toBe(zapped);
  });

  test("inconsistent or forged receipts → null", () => {
    expect(parseZapReceipt(receipt({ amount: "99999", bolt11: "lnbc100n1pqqq" }))).toBeNull(); // amounts disagree
    expect(parseZapReceipt(receipt({ bolt11: "lnbc1pqqq" }))).toBeNull(); // no amount anywhere
    expect(parseZapReceipt(receipt({ amount: "10000" }))).toBeNull(); // no bolt11
    expect(parseZapReceipt(receipt({ bolt11: "lnbc100n1pqqq", description: "not json" }))).toBeNull();
    const real = finalizeEvent({ kind: ZAP_REQUEST, created_at: 1, content: "", tags: [["e", zapped]] }, customer.sk);
    const forged = { ...real, pubkey: other.pk }; // signature no longer matches
    expect(parseZapReceipt(receipt({ bolt11: "lnbc100n1pqqq", zapRequest: forged }))).toBeNull();
    const wrongKind = finalizeEvent({ kind: 1, created_at: 1, content: "", tags: [["e", zapped]] }, customer.sk);
    expect(parseZapReceipt(receipt({ bolt11: "lnbc100n1pqqq", zapRequest: wrongKind }))).toBeNull();
    expect(parseZapReceipt({ kind: ZAP_RECEIPT })).toBeNull();
    expect(parseZapReceipt(request([["i", "x"]]))).toBeNull();
  });
});
