// Load: 1,000 requests from 200 customers within 10 s through a local relay, against the provider
// running as a child process (free mode, instant fake Ollama, one generation at a time, a bounded
// queue with a per-customer share, 10 requests per customer per minute). 20 heavy customers send
// 25 requests each in a burst, 180 light ones send 2 or 3 at random moments. Checked at the
// customers' side and in the provider's ledger:
//   - every request gets a result or an error feedback;
//   - admission holds: the queue (sampled from the ledger) never exceeds its bound, no customer
//     ever has more than its share waiting in it, at most one job generates at once, and no
//     customer gets more than 10 jobs accepted in the minute;
//   - fairness: the heavy bursts are held to their share of the queue (some of their requests are
//     refused for it), a request is only refused for the share when its customer really had that
//     many jobs in flight, the rate limit stops only the heavy customers, and no light request is
//     refused as "busy": every light customer that stays within its share gets its results;
//   - nothing crashes (no error in the provider's log, a clean exit).
// Figures printed: throughput, latency p50/p99 at the customer, light served / busy, heavy capped,
// peak queue (all and per customer), the provider's peak RSS.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { rmSync } from "node:fs";
import { finalizeEvent, generateSecretKey, getPublicKey, type Event } from "nostr-tools/pure";
import { Relay } from "nostr-tools/relay";
import { paths } from "../../src/paths.ts";
import { startOllamaServer, type FakeOllama } from "../fixtures/ollama-server.ts";
import { startRelay, type TestRelay } from "../fixtures/relay.ts";
import { prepareDataDir, prng, rssOf, spawnProvider, until, type ChildProvider } from "../fixtures/stress-app.ts";

const REQUESTS = 1_000;
const SPREAD_MS = 10_000;
const HEAVY = { customers: 20, each: 25 };
const BURST_MS = 250;
const PER_MINUTE = 10;
const QUEUE_SIZE = 16; // the default
const PER_CUSTOMER_QUEUED = 2; // the default (limits.maxQueuedPerCustomer)
const MAX_CONCURRENT = 1;
/** Customers share this many websocket connections (one subscription each, for their p tags). */
const CONNECTIONS = 20;
const SEED = Number(process.env.COMPUTE_STRESS_SEED ?? Math.floor(Math.random() * 2 ** 31));

let fake: FakeOllama;
let relay: TestRelay;
let child: ChildProvider | null = null;
let dataDir = "";
const conns: Relay[] = [];

beforeAll(async () => {
  fake = await startOllamaServer({ models: [{ name: "llama3.2" }], instant: true });
  relay = await startRelay();
});
afterAll(async () => {
  for (const c of conns) c.close();
  if (child) await child.stop();
  await relay.stop();
  await fake.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}, 30_000);

interface Req {
  event: Event;
  customer: number;
  heavy: boolean;
  at: number;
  sentAt: number;
  answeredAt: number | null;
  outcome: "result" | "error" | null;
  reason: string | null;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
};

test(
  `${REQUESTS} requests from 200 customers in ${SPREAD_MS / 1000} s: every one answered, admission and fairness hold, figures`,
  async () => {
    console.log(`load: seed ${SEED} (replay with COMPUTE_STRESS_SEED=${SEED})`);
    const rnd = prng(SEED);
    const prepared = await prepareDataDir({
      relays: [relay.url],
      ollamaUrl: fake.url,
      pricing: { mode: "free" },
      limits: { perCustomerPerMinute: PER_MINUTE, queueSize: QUEUE_SIZE, maxConcurrentJobs: MAX_CONCURRENT, maxQueuedPerCustomer: PER_CUSTOMER_QUEUED },
    });
    dataDir = prepared.dataDir;
    child = await spawnProvider(dataDir);

    // 200 customers: 20 heavy (25 requests each), 180 light (3 or 2 each): 1,000 requests.
    const keys = Array.from({ length: 200 }, () => generateSecretKey());
    const pubkeys = keys.map((k) => getPublicKey(k));
    const counts = keys.map((_, i) => (i < HEAVY.customers ? HEAVY.each : i < HEAVY.customers + 140 ? 3 : 2));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(REQUESTS);
    const reqs: Req[] = [];
    const now = Math.floor(Date.now() / 1000);
    for (let c = 0; c < keys.length; c++) {
      const heavy = c < HEAVY.customers;
      // Heavy customers burst (all their requests within BURST_MS, as a script would); light ones
      // send whenever.
      const burstAt = Math.floor(rnd() * (SPREAD_MS - BURST_MS));
      for (let n = 0; n < counts[c]!; n++) {
        const event = finalizeEvent({ kind: 5050, created_at: now, tags: [["i", `customer ${c} request ${n}`, "text"]], content: "" }, keys[c]!);
        const at = heavy ? burstAt + Math.floor(rnd() * BURST_MS) : Math.floor(rnd() * SPREAD_MS);
        reqs.push({ event, customer: c, heavy, at, sentAt: 0, answeredAt: null, outcome: null, reason: null });
      }
    }
    reqs.sort((a, b) => a.at - b.at);
    const byId = new Map(reqs.map((r) => [r.event.id, r]));

    // Customer side: connections shared by customers, each listening for its customers' replies.
    const lane = (c: number) => c % CONNECTIONS;
    for (let l = 0; l < CONNECTIONS; l++) {
      const conn = await Relay.connect(relay.url);
      conns.push(conn);
      const mine = pubkeys.filter((_, c) => lane(c) === l);
      conn.subscribe([{ kinds: [6050, 7000], "#p": mine, since: now - 5 }], {
        onevent(e) {
          const jobId = e.tags.find((t) => t[0] === "e")?.[1];
          const r = jobId ? byId.get(jobId) : undefined;
          if (!r || r.outcome || e.pubkey !== prepared.pubkey) return;
          const status = e.tags.find((t) => t[0] === "status");
          if (e.kind === 7000 && status?.[1] !== "error") return;
          r.answeredAt = performance.now();
          r.outcome = e.kind === 6050 ? "result" : "error";
          r.reason = status?.[2] ?? null;
        },
      });
    }

    // Admission as the ledger sees it, sampled while the load runs. Queued and processing get no
    // commit of their own (issue 16): a job the engine holds is a row still 'received' (or
    // 'processing' when it started at once), so the rows held are the queue plus the one running,
    // and the generations at once are read from the fake Ollama.
    const db = new Database(paths(dataDir).ledger, { readonly: true });
    let maxQueued = 0;
    let maxQueuedOneCustomer = 0;
    let maxProcessing = 0;
    let samples = 0;
    let peakRssNow = 0;
    let sampling = true;
    const sampler = (async () => {
      const q = db.query("SELECT COUNT(*) AS n FROM jobs WHERE status IN ('received', 'queued', 'processing')");
      const perCustomer = db.query("SELECT COALESCE(MAX(n), 0) AS n FROM (SELECT COUNT(*) AS n FROM jobs WHERE status IN ('received', 'queued', 'processing') GROUP BY customer)");
      while (sampling) {
        // Held = queued + running (at most MAX_CONCURRENT of them).
        maxQueued = Math.max(maxQueued, (q.get() as { n: number }).n - MAX_CONCURRENT);
        maxProcessing = Math.max(maxProcessing, fake.active());
        maxQueuedOneCustomer = Math.max(maxQueuedOneCustomer, (perCustomer.get() as { n: number }).n - MAX_CONCURRENT);
        const rss = await rssOf(child!.pid);
        if (rss) peakRssNow = Math.max(peakRssNow, rss.nowMiB);
        samples++;
        await Bun.sleep(20);
      }
    })();
    const rssBefore = await rssOf(child.pid);

    // Send on schedule.
    const t0 = performance.now();
    const sends: Promise<unknown>[] = [];
    for (const r of reqs) {
      const wait = t0 + r.at - performance.now();
      if (wait > 0) await Bun.sleep(wait);
      r.sentAt = performance.now();
      sends.push(conns[lane(r.customer)]!.publish(r.event).catch((e) => (r.reason = `publish failed: ${e}`)));
    }
    await Promise.all(sends);
    const sentMs = performance.now() - t0;
    await until(() => reqs.every((r) => r.outcome !== null), 60_000, "every request answered").catch(() => {});
    sampling = false;
    await sampler;
    db.close();
    const rss = await rssOf(child.pid);
    const doneMs = Math.max(...reqs.filter((r) => r.answeredAt).map((r) => r.answeredAt!)) - t0;

    const reasons = new Map<string, number>();
    for (const r of reqs) if (r.outcome === "error") reasons.set(r.reason ?? "", (reasons.get(r.reason ?? "") ?? 0) + 1);
    const known = [`too many requests: at most ${PER_MINUTE} per minute per customer`, "busy, try later"];
    /** Refused for the customer's share of the queue: "you already have N jobs waiting here …". */
    const shareRefusal = /^you already have (\d+) jobs? waiting here \(at most (\d+) per customer\); try again when one finishes$/;
    const capped = (xs: Req[]) => xs.filter((r) => shareRefusal.test(r.reason ?? ""));
    const light = reqs.filter((r) => !r.heavy);
    const heavy = reqs.filter((r) => r.heavy);
    const busy = (xs: Req[]) => xs.filter((r) => r.reason === "busy, try later").length;
    /**
     * The customer's other requests in flight when `r` was sent: sent before it (on the same
     * connection, so they reached the provider first) and answered with a result after it. Each
     * job waiting at the provider when `r` arrived is one of them.
     */
    const inFlight = (r: Req) => reqs.filter((o) => o !== r && o.customer === r.customer && o.sentAt <= r.sentAt && o.outcome === "result" && o.answeredAt! > r.sentAt).length;
    const accepted = new Map<number, number>();
    for (const r of reqs) if (r.outcome === "result") accepted.set(r.customer, (accepted.get(r.customer) ?? 0) + 1);
    const results = reqs.filter((r) => r.outcome === "result");
    const lat = (xs: Req[]) => xs.map((r) => r.answeredAt! - r.sentAt);
    const fig = {
      sentIn: `${(sentMs / 1000).toFixed(1)} s`,
      allAnsweredIn: `${(doneMs / 1000).toFixed(1)} s`,
      results: results.length,
      refusedRateLimit: reasons.get(known[0]!) ?? 0,
      refusedBusy: reasons.get("busy, try later") ?? 0,
      refusedShare: capped(reqs).length,
      throughputJobsPerSec: Math.round((results.length / doneMs) * 1000 * 10) / 10,
      answersPerSec: Math.round((REQUESTS / doneMs) * 1000 * 10) / 10,
      resultLatencyMs: { p50: Math.round(pct(lat(results), 50)), p99: Math.round(pct(lat(results), 99)), max: Math.round(Math.max(...lat(results))) },
      refusalLatencyMs: { p50: Math.round(pct(lat(reqs.filter((r) => r.outcome === "error")), 50)), p99: Math.round(pct(lat(reqs.filter((r) => r.outcome === "error")), 99)) },
      resultLatencyLightMs: { p50: Math.round(pct(lat(results.filter((r) => !r.heavy)), 50)), p99: Math.round(pct(lat(results.filter((r) => !r.heavy)), 99)) },
      resultLatencyHeavyMs: { p50: Math.round(pct(lat(results.filter((r) => r.heavy)), 50)), p99: Math.round(pct(lat(results.filter((r) => r.heavy)), 99)) },
      lightCustomersWithNoResult: pubkeys.filter((_, c) => c >= HEAVY.customers && !accepted.has(c)).length,
      lightServed: `${light.filter((r) => r.outcome === "result").length}/${light.length}`,
      refusedRateLightVsHeavyPastLimit: `${(100 * light.filter((r) => r.outcome !== "result").length / light.length).toFixed(1)}% vs ${(100 * heavy.filter((r) => r.reason !== known[0] && r.outcome !== "result").length / heavy.filter((r) => r.reason !== known[0]).length).toFixed(1)}%`,
      busyLight: `${busy(light)}/${light.length}`,
      cappedLight: `${capped(light).length}/${light.length}`,
      busyHeavyPastLimit: `${busy(heavy)}/${heavy.filter((r) => r.reason !== known[0]).length}`,
      cappedHeavyPastLimit: `${capped(heavy).length}/${heavy.filter((r) => r.reason !== known[0]).length}`,
      heavyCustomersCapped: `${new Set(capped(heavy).map((r) => r.customer)).size}/${HEAVY.customers}`,
      maxQueuedSeen: maxQueued,
      maxQueuedOneCustomerSeen: maxQueuedOneCustomer,
      maxProcessingSeen: maxProcessing,
      providerRssMiB: { beforeLoad: rssBefore?.nowMiB, peakDuringLoad: peakRssNow, peakHwm: rss?.peakMiB },
    };
    console.log(`load figures: ${JSON.stringify(fig)}`);

    // Every request answered, at the customer's side.
    const unanswered = reqs.filter((r) => r.outcome === null);
    expect(unanswered.map((r) => `customer ${r.customer}: ${r.reason ?? "nothing"}`)).toEqual([]);
    // Admission: queue bound, concurrency, per-customer limit.
    expect(samples).toBeGreaterThan(50);
    expect(maxQueued).toBeLessThanOrEqual(QUEUE_SIZE);
    expect(maxQueuedOneCustomer).toBeLessThanOrEqual(PER_CUSTOMER_QUEUED);
    expect(maxProcessing).toBeLessThanOrEqual(MAX_CONCURRENT);
    expect(Math.max(...accepted.values())).toBeLessThanOrEqual(PER_MINUTE);
    expect([...reasons.keys()].filter((k) => !known.includes(k) && !shareRefusal.test(k))).toEqual([]);
    // Heavy customers met the limit: each was refused by it for its requests past PER_MINUTE.
    for (let c = 0; c < HEAVY.customers; c++) expect(heavy.filter((r) => r.customer === c && r.reason === known[0]).length).toBe(HEAVY.each - PER_MINUTE);
    // Fairness. The rate limit only ever stops heavy customers.
    expect(light.filter((r) => r.reason === known[0])).toEqual([]);
    // The share: the bursts meet it (they are what would fill the queue), and a request refused
    // for it names the share, and its customer had at least that many other jobs in flight.
    expect(capped(heavy).length).toBeGreaterThan(0);
    for (const r of capped(reqs)) {
      const [, n, max] = shareRefusal.exec(r.reason!)!;
      expect({ customer: r.customer, max: Number(max), waiting: Number(n) >= PER_CUSTOMER_QUEUED, inFlight: inFlight(r) >= PER_CUSTOMER_QUEUED }).toEqual({ customer: r.customer, max: PER_CUSTOMER_QUEUED, waiting: true, inFlight: true });
    }
    // The bursts can't crowd the light customers out. A "busy" means the queue was full, which,
    // with every customer held to its share (sampled above), takes at least QUEUE_SIZE /
    // PER_CUSTOMER_QUEUED customers with jobs waiting: a light request refused as busy must have
    // had that many other customers' jobs in flight around it (sent before its answer came,
    // answered after it was sent). On a machine that keeps up with the load there is none at all
    // (the printed busyLight); a saturated one refuses light and heavy alike, and then the light
    // requests must still fare clearly better than the heavy ones past the rate limit.
    const busyLight = light.filter((r) => r.reason === "busy, try later");
    for (const r of busyLight) {
      const around = reqs.filter((o) => o.customer !== r.customer && o.outcome === "result" && o.sentAt <= r.answeredAt! && o.answeredAt! > r.sentAt);
      expect({ customer: r.customer, enoughCustomers: new Set(around.map((o) => o.customer)).size >= QUEUE_SIZE / PER_CUSTOMER_QUEUED }).toEqual({ customer: r.customer, enoughCustomers: true });
    }
    const refusedRate = (xs: Req[]) => xs.filter((r) => r.outcome !== "result").length / xs.length;
    const heavyAdmissible = heavy.filter((r) => r.reason !== known[0]);
    expect(refusedRate(light)).toBeLessThan(refusedRate(heavyAdmissible) / 2);
    // Light requests other than these were all served.
    expect(light.filter((r) => r.outcome !== "result" && r.reason !== "busy, try later" && !shareRefusal.test(r.reason ?? "")).map((r) => `customer ${r.customer}: ${r.reason}`)).toEqual([]);
    // Nothing crashed.
    expect(child.proc.exitCode).toBeNull();
    const errors = child.stderr().split("\n").filter((l) => /"level":"error"|panic|Uncaught/i.test(l));
    expect(errors).toEqual([]);
    expect(await child.stop()).toBe(0);
    child = null;
  },
  120_000,
);
