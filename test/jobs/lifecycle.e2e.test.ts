// The provider end to end, part 4: being found (NIP-89 announcement, re-announce, withdrawal,
// heartbeat), going offline and stopping, crash recovery, and a relay restarting mid-job.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import * as nip44 from "nostr-tools/nip44";
import { finalizeEvent, generateSecretKey, getPublicKey } from "nostr-tools/pure";
import { Ledger } from "../../src/ledger/ledger.ts";
import { setLogSink } from "../../src/log.ts";
import { fakeAnswer } from "../fixtures/ollama-server.ts";
import { providerSuite, uniqueIds, until } from "./harness.ts";

// A test adds mistral:7b to see a re-announce; the next test must not see it.
const { fake, provider, tempDir } = providerSuite({ afterEach: (f) => f.removeModel("mistral:7b") });

const tag = (tags: string[][], name: string) => tags.find((t) => t[0] === name);

describe("being found (NIP-89 and liveness)", () => {
  test("31990 on going online: d, k=5050, served models in nip90Params, both encryption keys", async () => {
    const p = await provider();
    await until(() => p.stored(31990).length === 2, 3000, "announcement on both relays");
    const ann = p.stored(31990);
    expect(ann).toHaveLength(2); // one per relay, the same event
    expect(uniqueIds(ann)).toHaveLength(1);
    const ev = ann[0]!;
    expect(ev.pubkey).toBe(p.pubkey);
    const d = tag(ev.tags, "d")?.[1];
    expect(d).toMatch(/^[0-9a-f]{16}$/);
    expect(d).toBe(p.ledger.announcementTag()!);
    expect(tag(ev.tags, "k")).toEqual(["k", "5050"]);
    const content = JSON.parse(ev.content);
    expect(content.nip90Params.model.values).toEqual(["llama3.2:latest"]);
    expect(content.encryptionSupported).toBe(true);
    expect(content.supportsEncryption).toBe(true);
    expect(content.name).toBe(p.config.provider.name);
    expect(p.engine.view().announcementId).toBe(ev.id);
    expect(p.engine.view().online).toBe(true);
    // Clients find us with the usual filter.
    const found = await p.customer.query(p.urls[1]!, { kinds: [31990], "#k": ["5050"] });
    expect(found.map((e) => e.id)).toEqual([ev.id]);
  });

  test("a new served model → re-announced with the same d; going offline withdraws it (kind 5 with e and a)", async () => {
    const p = await provider();
    await until(() => p.published(31990).length === 1, 3000, "announcement");
    const first = p.published(31990)[0]!;
    const d = tag(first.tags, "d")![1]!;
    fake.addModel({ name: "mistral:7b" });
    await until(() => p.published(31990).length >= 2, 3000, "re-announcement");
    const second = p.published(31990).at(-1)!;
    expect(tag(second.tags, "d")![1]).toBe(d);
    expect(JSON.parse(second.content).nip90Params.model.values.sort()).toEqual(["llama3.2:latest", "mistral:7b"]);
    expect(p.engine.view().announcementId).toBe(second.id);
    // Nothing changed → no new announcement.
    await Bun.sleep(500);
    expect(p.published(31990)).toHaveLength(2);

    await p.engine.goOffline();
    await until(() => p.published(5).some((e) => e.pubkey === p.pubkey), 3000, "withdrawal");
    const withdrawals = p.published(5).filter((e) => e.pubkey === p.pubkey);
    expect(withdrawals).toHaveLength(1);
    expect(withdrawals[0]!.tags).toContainEqual(["e", second.id]);
    expect(withdrawals[0]!.tags).toContainEqual(["a", `31990:${p.pubkey}:${d}`]);
    expect(p.engine.view()).toMatchObject({ online: false, announcementId: null });
    // Offline: requests are not taken.
    const req = p.customer.request({ inputs: [["anyone there?", "text"]] });
    await p.customer.publish(req);
    await Bun.sleep(300);
    expect(p.stored(7000, req.id)).toEqual([]);
    // Online again: a fresh announcement with the same d.
    await p.engine.goOnline();
    await until(() => p.published(31990).length === 3, 3000, "announced again");
    const third = p.published(31990).at(-1)!;
    expect(third.id).not.toBe(second.id);
    expect(tag(third.tags, "d")![1]).toBe(d);
    // All of it within a second or two: relays compare created_at in seconds, so each version must
    // be later than the one before (NIP-01 keeps the lowest id on a tie) and the re-announcement
    // later than the withdrawal (NIP-09 `a` deletes every version up to its created_at).
    expect(second.created_at).toBeGreaterThan(first.created_at);
    expect(withdrawals[0]!.created_at).toBeGreaterThanOrEqual(second.created_at);
    expect(third.created_at).toBeGreaterThan(withdrawals[0]!.created_at);
    // The relay kept the re-announcement, not an older version.
    await until(() => p.stored(31990, undefined, 0).some((e) => e.id === third.id), 3000, "third stored");
    expect(p.stored(31990, undefined, 0).map((e) => e.id)).toEqual([third.id]);
  });

  test("a settings change that shows in the announcement re-announces; one that doesn't, doesn't", async () => {
    const p = await provider();
    await until(() => p.published(31990).length === 1, 3000, "announcement");
    p.setConfig({ limits: { perCustomerPerMinute: 99 } });
    await p.engine.configChanged();
    expect(p.published(31990)).toHaveLength(1);
    p.setConfig({ provider: { name: "Renamed DVM" } });
    await p.engine.configChanged();
    await until(() => p.published(31990).length === 2, 3000, "re-announcement");
    expect(JSON.parse(p.published(31990)[1]!.content).name).toBe("Renamed DVM");
  });

  test("heartbeat 11998 with d and expiration, every heartbeatMs; none after going offline or stop()", async () => {
    const p = await provider({ engine: { heartbeatMs: 100 } });
    await until(() => p.published(11998).length >= 4, 3000, "heartbeats");
    await until(() => p.published(31990).length === 1, 3000, "announcement");
    const d = tag(p.published(31990)[0]!.tags, "d")![1];
    for (const beat of p.published(11998)) {
      expect(beat.pubkey).toBe(p.pubkey);
      expect(tag(beat.tags, "d")![1]).toBe(d);
      expect(Number(tag(beat.tags, "expiration")![1])).toBe(beat.created_at + 300);
    }
    await p.engine.goOffline();
    await Bun.sleep(50); // a beat already on its way may still land
    const n = p.published(11998).length;
    await Bun.sleep(350);
    expect(p.published(11998).length).toBe(n);
    await p.engine.goOnline();
    await until(() => p.published(11998).length >= n + 2, 3000, "heartbeats again");
    await p.engine.stop();
    await p.engine.stop(); // idempotent
    const m = p.published(11998).length;
    await Bun.sleep(350);
    expect(p.published(11998).length).toBe(m);
    await p.engine.goOnline(); // a stopped engine stays stopped
    expect(p.engine.isOnline()).toBe(false);
  });

  test("going offline with queued jobs tells their customers; the running one finishes", async () => {
    fake.setPacing({ instant: false, tokensPerSec: 100, responseTokens: 40 });
    const p = await provider({ config: { limits: { maxConcurrentJobs: 1 } } });
    const c = p.customer;
    const a = c.request({ inputs: [["running", "text"]] });
    const b = c.request({ inputs: [["waiting", "text"]] });
    await c.publish(a);
    await c.waitForStatus(a.id, "processing");
    await c.publish(b);
    await until(() => p.engine.jobs().find((j) => j.id === b.id)?.status === "queued", 3000, "b queued");
    await p.engine.goOffline();
    const err = await c.waitForStatus(b.id, "error");
    expect(err.extra).toContain("provider went offline");
    expect((await c.waitForResult(a.id, 3000)).content).toBe(fakeAnswer("running", { responseTokens: 40 }));
    expect(fake.requests("/api/generate").map((r) => r.body?.prompt)).not.toContain("waiting");
  });

  test("onOffline: cancel → going offline aborts the running job and tells its customer", async () => {
    fake.setPacing({ instant: false, tokensPerSec: 20, responseTokens: 400 });
    const p = await provider({ config: { limits: { onOffline: "cancel" } } });
    const c = p.customer;
    const req = c.request({ inputs: [["cut short", "text"]] });
    await c.publish(req);
    await c.waitForStatus(req.id, "processing");
    await fake.waitFor(() => fake.active() === 1, 3000);
    const before = fake.aborts();
    await p.engine.goOffline();
    const err = await c.waitForStatus(req.id, "error");
    expect(err.extra).toContain("provider went offline");
    await fake.waitFor(() => fake.aborts() > before, 2000);
    await until(() => p.ledger.getJob(req.id)?.status === "cancelled", 2000, "cancelled in the ledger");
    expect(c.results(req.id)).toEqual([]);
  });

  test("stop() aborts a job still running after the grace time and tells its customer", async () => {
    fake.setPacing({ instant: false, tokensPerSec: 20, responseTokens: 400 });
    const p = await provider();
    const c = p.customer;
    const req = c.request({ inputs: [["endless", "text"]] });
    await c.publish(req);
    await c.waitForStatus(req.id, "processing");
    await fake.waitFor(() => fake.active() === 1, 3000);
    const before = fake.aborts();
    await p.engine.stop(200);
    expect(p.ledger.getJob(req.id)?.status).toBe("cancelled");
    await fake.waitFor(() => fake.aborts() > before, 2000);
    const err = await c.waitForStatus(req.id, "error");
    expect(err.extra).toContain("shutting down");
    expect(c.results(req.id)).toEqual([]);
  });
});

describe("crash recovery", () => {
  test("seen request ids older than a day and zap targets of jobs finished over a week ago are pruned when going online; recent ones are kept", async () => {
    const p = await provider({ offline: true });
    const old = "0".repeat(63) + "1";
    const recent = "0".repeat(63) + "2";
    p.ledger.markSeen(old, 5050, Date.now() - 25 * 3600_000);
    p.ledger.markSeen(recent, 5050, Date.now() - 3600_000);
    // Two answered jobs: one finished 8 days ago, one yesterday; each with a zap target.
    for (const [jobId, daysAgo] of [[old, 8], [recent, 1]] as const) {
      const at = Date.now() - daysAgo * 24 * 3600_000;
      p.ledger.insertJob({ id: jobId, kind: 5050, customer: "c".repeat(64), requestJson: "{}", status: "received", createdAt: at });
      p.ledger.updateJob(jobId, { status: "processing", updatedAt: at });
      p.ledger.updateJob(jobId, { status: "success", updatedAt: at });
      p.ledger.setZapTarget(`feed${jobId.slice(4)}`, jobId);
    }
    await p.engine.goOnline();
    await until(() => p.published(11998).length >= 1, 3000, "first beat");
    expect(p.ledger.markSeen(old, 5050)).toBe(true); // forgotten, so new again
    expect(p.ledger.markSeen(recent, 5050)).toBe(false);
    expect([old, recent].map((jobId) => p.ledger.zapTarget(`feed${jobId.slice(4)}`))).toEqual([null, recent]);
  });

  test("jobs left open in the ledger get 'provider restarted' and are never answered twice", async () => {
    const dir = tempDir("compute-recover-");
    const ledgerPath = join(dir, "ledger.db");
    const providerKey = generateSecretKey();
    const providerPk = getPublicKey(providerKey);
    const customerKey = generateSecretKey();
    const now = Math.floor(Date.now() / 1000);
    const plain = finalizeEvent({ kind: 5050, created_at: now, tags: [["i", "half done", "text"]], content: "" }, customerKey);
    const secret = finalizeEvent(
      {
        kind: 5050,
        created_at: now,
        tags: [["p", providerPk], ["encrypted"]],
        content: nip44.encrypt(JSON.stringify([["i", "secret half done", "text"]]), nip44.getConversationKey(customerKey, providerPk)),
      },
      customerKey,
    );
    // The seen table lost this one (pruned), but the job row is there.
    const unseen = finalizeEvent({ kind: 5050, created_at: now, tags: [["i", "queued when it crashed", "text"]], content: "" }, customerKey);
    // What a crash mid-job leaves behind: the request marked seen and its row not finished.
    const before = Ledger.open(ledgerPath);
    for (const [ev, status, seen] of [[plain, "processing", true], [secret, "processing", true], [unseen, "queued", false]] as const) {
      if (seen) before.markSeen(ev.id, ev.kind);
      before.insertJob({ id: ev.id, kind: 5050, customer: ev.pubkey, requestJson: JSON.stringify(ev), relay: null, model: "llama3.2:latest", status, encrypted: ev === secret, createdAt: Date.now() - 1000 });
    }
    before.close();

    const p = await provider({ ledgerPath, secretKey: providerKey, customerKey, offline: true });
    const c = p.customer;
    // The requests are still on the relays (a restart finds them again through the since window).
    for (const ev of [plain, secret, unseen]) await c.publish(ev);
    expect(await p.engine.recover()).toBe(3);
    for (const ev of [plain, secret, unseen]) {
      const err = await c.waitForStatus(ev.id, "error");
      expect(err.extra).toContain("provider restarted");
      expect(p.ledger.getJob(ev.id)).toMatchObject({ status: "error", error: "provider restarted" });
    }
    expect(c.feedback(secret.id)[0]!.encrypted).toBe(true);
    expect(await p.engine.recover()).toBe(0);

    await p.engine.goOnline();
    await Bun.sleep(500);
    for (const ev of [plain, secret, unseen]) {
      expect(p.stored(6050, ev.id)).toEqual([]);
      expect(c.feedback(ev.id).map((f) => f.status)).toEqual(["error"]);
    }
    expect(fake.requests("/api/generate").filter((r) => r.body?.prompt)).toEqual([]);
  });
});

test("recover(): a move job.ts forbids is logged as a bug and refused, not thrown, and the loop ends", async () => {
  const p = await provider({ offline: true });
  const c = p.customer;
  // A row no run of the engine leaves: still 'received' yet carrying a credited payment hash, so
  // recovery would move received → paid, which job.ts does not allow.
  const odd = c.request({ inputs: [["odd row", "text"]] });
  const hash = "e".repeat(64);
  p.ledger.insertJob({ id: odd.id, kind: 5050, customer: c.pubkey, requestJson: JSON.stringify(odd), status: "received", amountMsats: 5000, paymentHash: hash, createdAt: Date.now() });
  p.ledger.creditPayment({ id: "odd-pay", amountMsats: 5000, paymentHash: hash, source: "invoice" });
  const lines: string[] = [];
  const prev = setLogSink((line) => void lines.push(line));
  try {
    expect(await p.engine.recover()).toBe(0);
  } finally {
    setLogSink(prev);
  }
  const bug = lines.map((l) => JSON.parse(l)).find((r) => String(r.msg).includes("illegal job status change"));
  expect(bug).toMatchObject({ level: "error", id: odd.id, from: "received", to: "paid" });
  // Left as it was: neither paid nor closed, and the customer heard nothing.
  expect(p.ledger.getJob(odd.id)?.status).toBe("received");
  await Bun.sleep(100);
  expect(c.feedback(odd.id)).toEqual([]);
});

test("recover() while a job runs leaves that job alone", async () => {
  fake.setPacing({ instant: false, tokensPerSec: 100, responseTokens: 30 });
  const p = await provider();
  const c = p.customer;
  const req = c.request({ inputs: [["alive and well", "text"]] });
  await c.publish(req);
  await c.waitForStatus(req.id, "processing");
  expect(await p.engine.recover()).toBe(0);
  const r = await c.waitForResult(req.id, 3000);
  expect(r.content).toBe(fakeAnswer("alive and well", { responseTokens: 30 }));
  expect(c.feedback(req.id).map((f) => f.status)).not.toContain("error");
});

describe("relay trouble", () => {
  test("a relay restarting mid-job: the result still reaches both relays, answered once", async () => {
    fake.setPacing({ instant: false, tokensPerSec: 40, responseTokens: 40 });
    const p = await provider();
    const c = p.customer;
    const req = c.request({ inputs: [["through the storm", "text"]] });
    await c.publish(req);
    await c.waitForStatus(req.id, "processing");
    await p.relays[0].stop();
    await Bun.sleep(150);
    await p.relays[0].restart();
    const result = await c.waitForResult(req.id, 5000);
    expect(result.content).toBe(fakeAnswer("through the storm", { responseTokens: 40 }));
    await until(() => p.stored(6050, req.id, 0).length === 1, 4000, "result on the restarted relay");
    expect(p.stored(6050, req.id, 1)).toHaveLength(1);
    // The reconnect re-delivers the request (since window); it is not run or answered again.
    await Bun.sleep(400);
    expect(uniqueIds(p.stored(6050, req.id))).toHaveLength(1);
    expect(fake.requests("/api/generate").filter((r) => r.body?.prompt === "through the storm")).toHaveLength(1);
    expect(p.pool.views().every((v) => v.state === "connected")).toBe(true);
  });

  test("a relay that is down when the job ends: the other relay gets the result at once", async () => {
    fake.setPacing({ instant: false, tokensPerSec: 40, responseTokens: 20 });
    const p = await provider();
    const c = p.customer;
    const req = c.request({ inputs: [["one relay left", "text"]] });
    await c.publish(req);
    await c.waitForStatus(req.id, "processing");
    await p.relays[0].stop();
    const started = Date.now();
    await until(() => p.stored(6050, req.id, 1).length === 1, 4000, "result on the live relay");
    // The live relay didn't wait for the dead one's publish deadline.
    expect(Date.now() - started).toBeLessThan(2500);
    expect(p.ledger.getJob(req.id)?.status).toBe("success");
    // Back up: the publish still waiting for it completes, and it gets the result too.
    await p.relays[0].restart();
    await until(() => p.stored(6050, req.id, 0).length === 1, 3000, "result on the returning relay");
  });

  test("with a relay down, a finished job gives its slot back at once (delivery doesn't hold the model)", async () => {
    fake.setPacing({ instant: false, tokensPerSec: 100, responseTokens: 20 });
    const p = await provider({ config: { limits: { maxConcurrentJobs: 1 } } });
    const c = p.customer;
    await p.relays[0].stop();
    const a = c.request({ inputs: [["first in line", "text"]] });
    const b = c.request({ inputs: [["second in line", "text"]] });
    await c.publish(a, [p.urls[1]!]);
    await c.publish(b, [p.urls[1]!]);
    const ra = await c.waitForResult(a.id, 5000);
    const rb = await c.waitForResult(b.id, 5000);
    // The pool keeps trying the dead relay until its publish deadline (3 s here); the second job
    // must not have waited for that before it started.
    const starts = fake.requests("/api/generate").filter((r) => r.body?.prompt).map((r) => r.startedAt ?? r.receivedAt);
    expect(starts).toHaveLength(2);
    expect(starts[1]! - starts[0]!).toBeLessThan(1500);
    expect(rb.content).toBe(fakeAnswer("second in line", { responseTokens: 20 }));
    expect(ra.content).toBe(fakeAnswer("first in line", { responseTokens: 20 }));
    await p.relays[0].restart();
  });

  test("GO ONLINE with a relay down returns at once; the live relay gets the announcement", async () => {
    const p = await provider({ offline: true });
    await p.relays[0].stop();
    const t0 = Date.now();
    await p.engine.goOnline();
    expect(Date.now() - t0).toBeLessThan(500);
    expect(p.engine.isOnline()).toBe(true);
    await until(() => p.stored(31990, undefined, 1).length === 1, 3000, "announcement on the live relay");
    expect(p.engine.view().announcementId).toBe(p.stored(31990, undefined, 1)[0]!.id);
    const t1 = Date.now();
    await p.engine.goOffline();
    expect(Date.now() - t1).toBeLessThan(500);
    await until(() => p.published(5).length === 0 && p.stored(5, undefined, 1).length === 1, 3000, "withdrawal on the live relay");
    await p.relays[0].restart();
  });
});
