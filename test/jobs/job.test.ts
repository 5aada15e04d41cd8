import { describe, expect, test } from "bun:test";
import * as nip44 from "nostr-tools/nip44";
import { finalizeEvent, generateSecretKey, getPublicKey } from "nostr-tools/pure";
import { AppError } from "../../src/errors.ts";
import { JobStatus, JobView } from "../../src/jobs/events.ts";
import { applyTransition, canTransition, isFinal, Job, newJob, outputPreview, promptPreview, toView, transition } from "../../src/jobs/job.ts";
import { JOB_REQUEST_TEXT } from "../../src/nostr/kinds.ts";
import { type JobRequest, parseJobRequest } from "../../src/nostr/nip90.ts";

const providerSk = generateSecretKey();
const providerPk = getPublicKey(providerSk);
const customerSk = generateSecretKey();

function req(tags: string[][], content = ""): JobRequest {
  const ev = finalizeEvent({ kind: JOB_REQUEST_TEXT, created_at: 1_750_000_000, tags, content }, customerSk);
  const r = parseJobRequest(ev, { providerPubkey: providerPk, providerSecretKey: providerSk });
  if (!r.ok) throw new Error(r.reason);
  return r.request;
}

const T0 = 1_750_000_000_000;

describe("state machine", () => {
  test("the happy paths", () => {
    let j = newJob(req([["i", "hi"]]), { now: T0, model: "llama3.2:3b", sourceRelay: "wss://r" });
    expect(j.status).toBe("received");
    expect(Job.parse(j)).toEqual(j); // the schema describes what newJob makes
    j = transition(j, "payment-required", { now: T0 + 1 });
    j = transition(j, "paid", { now: T0 + 2 });
    expect(j.paidAt).toBe(T0 + 2);
    j = transition(j, "queued", { now: T0 + 3 });
    j = transition(j, "processing", { now: T0 + 4 });
    expect(j.startedAt).toBe(T0 + 4);
    expect(j.finishedAt).toBeNull();
    j = transition(j, "success", { now: T0 + 5 });
    expect(j).toMatchObject({ status: "success", updatedAt: T0 + 5, finishedAt: T0 + 5, createdAt: T0, error: null });

    // pay-after / free: straight to the queue
    let k = newJob(req([["i", "hi"]]), { now: T0 });
    k = transition(transition(transition(k, "queued", { now: T0 }), "processing", { now: T0 }), "success", { now: T0 });
    expect(k.status).toBe("success");
  });

  test("transition does not mutate its input", () => {
    const j = newJob(req([["i", "hi"]]), { now: T0 });
    const k = transition(j, "queued", { now: T0 + 1 });
    expect(j.status).toBe("received");
    expect(j.updatedAt).toBe(T0);
    expect(k.status).toBe("queued");
  });

  test("applyTransition moves the job itself, with the same stamps as transition", () => {
    const j = newJob(req([["i", "hi"]]), { now: T0 });
    const copy = transition(transition(j, "queued", { now: T0 + 1 }), "error", { now: T0 + 2 });
    applyTransition(j, "queued", T0 + 1);
    applyTransition(j, "error", T0 + 2);
    expect(j).toEqual(copy);
    expect(j.error).toBe("the job failed");
    // A given error is recorded whatever the status (a cancel's reason).
    const c = newJob(req([["i", "hi"]]), { now: T0 });
    applyTransition(c, "cancelled", T0 + 1, "cancelled by the customer");
    expect(c).toMatchObject({ status: "cancelled", error: "cancelled by the customer", finishedAt: T0 + 1 });
  });

  test("errors carry their reason; final states are final", () => {
    const j = transition(newJob(req([["i", "hi"]]), { now: T0 }), "error", { now: T0 + 1, error: "Ollama is not running" });
    expect(j.error).toBe("Ollama is not running");
    expect(j.finishedAt).toBe(T0 + 1);
    for (const to of JobStatus.options) expect(() => transition(j, to)).toThrow(AppError);
  });

  test("every illegal move throws conflict; the legal table matches the design", () => {
    const legal: Record<string, string[]> = {
      received: ["payment-required", "queued", "processing", "expired", "error", "cancelled"],
      "payment-required": ["paid", "expired", "error", "cancelled"],
      paid: ["queued", "processing", "expired", "error", "cancelled"],
      queued: ["processing", "paid", "expired", "error", "cancelled"],
      processing: ["success", "paid", "error", "cancelled"],
      success: [],
      error: [],
      cancelled: [],
      expired: [],
    };
    const base = newJob(req([["i", "hi"]]), { now: T0 });
    for (const from of JobStatus.options) {
      for (const to of JobStatus.options) {
        const expected = legal[from]!.includes(to);
        expect(canTransition(from, to)).toBe(expected);
        const job = { ...base, status: from };
        if (expected) {
          expect(transition(job, to, { now: T0 }).status).toBe(to);
        } else {
          let err: unknown;
          try {
            transition(job, to, { now: T0 });
          } catch (e) {
            err = e;
          }
          expect(err).toBeInstanceOf(AppError);
          expect((err as AppError).code).toBe("conflict");
        }
      }
    }
  });

  test("a free slot skips the queue; a paid job set aside goes back to paid and keeps its first paidAt", () => {
    const straight = transition(newJob(req([["i", "hi"]]), { now: T0 }), "processing", { now: T0 + 1 });
    expect(straight).toMatchObject({ status: "processing", startedAt: T0 + 1 });
    let j = transition(transition(newJob(req([["i", "hi"]]), { now: T0 }), "payment-required", { now: T0 + 1 }), "paid", { now: T0 + 2 });
    j = transition(transition(j, "processing", { now: T0 + 3 }), "paid", { now: T0 + 4 });
    expect(j).toMatchObject({ status: "paid", paidAt: T0 + 2, finishedAt: null, updatedAt: T0 + 4 });
    j = transition(transition(transition(j, "queued", { now: T0 + 5 }), "paid", { now: T0 + 6 }), "processing", { now: T0 + 7 });
    expect(transition(j, "success", { now: T0 + 8 })).toMatchObject({ status: "success", startedAt: T0 + 7, finishedAt: T0 + 8 });
    // Never back to paid once over, nor from an open invoice without the payment.
    expect(canTransition("success", "paid")).toBe(false);
    expect(canTransition("received", "paid")).toBe(false);
  });

  test("isFinal", () => {
    expect(JobStatus.options.filter(isFinal)).toEqual(["success", "error", "cancelled", "expired"]);
  });
});

describe("views", () => {
  test("toView is a valid JobView and carries the job's numbers", () => {
    let j = newJob(req([["i", "Explain quantum computing simply"]]), { now: T0, model: "mistral:7b" });
    j = { ...transition(j, "queued", { now: T0 + 10 }), tokens: 42, tokensPerSec: 12.5, amountMsats: 10_000, bolt11: "lnbc100n1x" };
    const v = toView(j);
    expect(JobView.parse(v)).toEqual(v);
    expect(v).toEqual({
      id: j.id,
      kind: 5050,
      customer: j.customer,
      model: "mistral:7b",
      status: "queued",
      promptPreview: "Explain quantum computing simply",
      tokens: 42,
      tokensPerSec: 12.5,
      amountMsats: 10_000,
      bolt11: "lnbc100n1x",
      error: null,
      encrypted: false,
      createdAt: T0,
      updatedAt: T0 + 10,
    });
  });

  test("the preview is at most 120 characters, never the full prompt", () => {
    const long = "word ".repeat(100) + "SECRET-TAIL";
    const p = promptPreview(req([["i", long]]));
    expect(Array.from(p).length).toBe(120);
    expect(p.endsWith("…")).toBe(true);
    expect(p).not.toContain("SECRET-TAIL");
    // emoji count as one character each and are never split
    const emoji = promptPreview(req([["i", "🚀".repeat(200)]]));
    expect(Array.from(emoji).length).toBe(120);
    expect(emoji.startsWith("🚀".repeat(119))).toBe(true);
  });

  test("toView takes a preview its holder already has (e.g. from the ledger row)", () => {
    const j = newJob(req([["i", "what the request says"]]), { now: T0 });
    expect(toView(j).promptPreview).toBe("what the request says");
    expect(toView(j, "kept from the row").promptPreview).toBe("kept from the row");
  });

  test("outputPreview: the last 120 units of the output, never half an emoji", () => {
    expect(outputPreview("short")).toBe("short");
    const text = "head " + "x".repeat(200) + " TAIL";
    expect(outputPreview(text)).toBe(text.slice(-120));
    expect(outputPreview(text)).toEndWith(" TAIL");
    // 🚀 is two UTF-16 units: here the 120th unit from the end is the second half of one.
    const odd = "🚀".repeat(100) + "a";
    expect(odd.slice(-120).charCodeAt(0)).toBeGreaterThanOrEqual(0xdc00);
    expect(outputPreview(odd)).toBe("🚀".repeat(59) + "a");
    expect(outputPreview("🚀".repeat(100))).toBe("🚀".repeat(60));
  });

  test("several inputs joined; non-text inputs described; whitespace collapsed", () => {
    const p = promptPreview(req([["i", "Summarize\n\nthis:", "text"], ["i", "https://example.com/x", "url"]]));
    expect(p).toBe("Summarize this: [url: https://example.com/x]");
  });

  test("an encrypted request is flagged; its decrypted preview stays local and short", () => {
    const secret = JSON.stringify([["i", "a private question " + "x".repeat(300), "text"]]);
    const content = nip44.encrypt(secret, nip44.getConversationKey(customerSk, providerPk));
    const j = newJob(req([["p", providerPk], ["encrypted"]], content), { now: T0 });
    const v = toView(j);
    expect(v.encrypted).toBe(true);
    expect(v.promptPreview.startsWith("a private question")).toBe(true);
    expect(Array.from(v.promptPreview).length).toBe(120);
  });
});
