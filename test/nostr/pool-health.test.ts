// The relay status the pool reports is truthful from the first second: a relay is shown
// "connected" only once it has answered something on the connection, a relay that stops answering
// is shown not responding within the probe's deadline, and one that answers again is shown
// connected again. Publishing does not wait for that first answer. Real relay fixture on 127.0.0.1.
import { afterEach, expect, test } from "bun:test";
import { finalizeEvent, generateSecretKey, type Event } from "nostr-tools/pure";
import { Bus } from "../../src/bus.ts";
import { RelayStatusChanged, type RelayView } from "../../src/nostr/events.ts";
import { RelayPool, type RelayPoolOptions } from "../../src/nostr/pool.ts";
import { AWAITING_ANSWER } from "../../src/nostr/relay-link.ts";
import { cleanups, relay, runCleanups, until } from "./helpers.ts";

const key = generateSecretKey();
let seq = 0;
const feedback = (): Event => finalizeEvent({ kind: 7000, tags: [["status", "processing"]], content: `fb ${seq++}`, created_at: Math.floor(Date.now() / 1000) }, key);

afterEach(runCleanups);

type Seen = RelayView & { at: number };

function makePool(url: string, opts: Partial<RelayPoolOptions>) {
  const bus = new Bus();
  const statuses: Seen[] = [];
  bus.subscribe(RelayStatusChanged, (p) => void statuses.push({ ...p.relay, at: Date.now() }));
  const pool = new RelayPool({ relays: [url], bus, signer: { secretKey: key }, allowInsecureLocal: true, backoff: { baseMs: 20, maxMs: 200 }, ...opts });
  cleanups.push(() => pool.stop());
  const view = () => pool.views()[0]!;
  return { pool, statuses, view };
}

const notResponding = (s: Seen) => s.state === "failed" && /not responding/.test(s.error ?? "");
/** The states in order, each run of equal states counted once. */
const runs = (statuses: Seen[]) => statuses.map((s) => s.state).filter((st, i, all) => i === 0 || all[i - 1] !== st);

test("a silent relay is never shown connected: connecting, waiting for its answer, then failed as not responding; events still go out to it", async () => {
  const silent = await relay({ mode: "silent" });
  const pingMs = 1500;
  const { pool, statuses, view } = makePool(silent.url, { pingIntervalMs: 60_000, timeouts: { pingMs, publishMs: 300 } });
  pool.start();
  // The websocket is open and the probe reached the relay, but nothing came back.
  await until(() => view().error === AWAITING_ANSWER, 3000, "socket open");
  await until(() => silent.connections()[0]?.reqs === 1, 3000, "probe received");
  expect(view()).toMatchObject({ state: "connecting", latencyMs: null, error: AWAITING_ANSWER });

  // Publishing doesn't wait for the answer: the event is sent on the open socket at once.
  const [res] = await pool.publish(feedback(), { timeoutMs: 300 });
  expect(res).toMatchObject({ relay: silent.url, ok: false, status: "timeout" });
  expect(silent.connections()[0]!.events).toBe(1);

  await until(() => statuses.some(notResponding), pingMs + 3000, "marked not responding");
  expect(statuses.find(notResponding)!.error).toContain(`within ${pingMs} ms`);
  // It keeps trying; each new connection is again "waiting", never "connected".
  await until(() => silent.connections().length >= 2 && statuses.filter(notResponding).length >= 2, 2 * pingMs + 3000, "second attempt failed");
  expect(statuses.filter((s) => s.state === "connected")).toEqual([]);
  expect(statuses.filter((s) => s.latencyMs !== null)).toEqual([]);
  expect(statuses.filter((s) => s.error === AWAITING_ANSWER).every((s) => s.state === "connecting")).toBe(true);
}, 15_000);

test("a healthy relay is shown connected, with a latency, within about a second of starting", async () => {
  const r = await relay();
  const { pool, statuses, view } = makePool(r.url, {});
  const t0 = Date.now();
  pool.start();
  await until(() => view().state === "connected" && view().latencyMs !== null, 5000, "connected with a latency");
  const connectedMs = statuses.find((s) => s.state === "connected")!.at - t0;
  console.log(`healthy relay: shown connected ${connectedMs} ms after start, latency ${view().latencyMs} ms`);
  expect(connectedMs).toBeLessThan(2000);
  expect(runs(statuses)).toEqual(["connecting", "connected"]);
  expect(view().error).toBeNull();
});

test("a relay that goes silent is shown not responding within the probe's deadline, never connected while silent, and connected again once it answers", async () => {
  const r = await relay();
  const pingIntervalMs = 250;
  const pingMs = 600;
  const { pool, statuses, view } = makePool(r.url, { pingIntervalMs, timeouts: { pingMs } });
  pool.start();
  await until(() => view().state === "connected" && view().latencyMs !== null, 3000, "connected");

  const silentAt = Date.now();
  r.setMode("silent");
  await until(() => statuses.some((s) => s.at >= silentAt && notResponding(s)), pingIntervalMs + pingMs + 3000, "not responding");
  const failedAt = statuses.find((s) => s.at >= silentAt && notResponding(s))!.at;
  console.log(`relay gone silent: shown not responding after ${failedAt - silentAt} ms (probe every ${pingIntervalMs} ms, deadline ${pingMs} ms)`);
  // Reconnections while it stays silent are not shown as healthy.
  const conns = r.connections().length;
  await until(() => r.connections().length > conns && statuses.filter((s) => s.at > failedAt && notResponding(s)).length >= 1, 2 * pingMs + 3000, "a reconnection that also failed");
  expect(statuses.filter((s) => s.at >= failedAt && s.state === "connected")).toEqual([]);
  expect(view().state).not.toBe("connected");

  const answeringAt = Date.now();
  r.setMode("normal");
  await until(() => view().state === "connected" && view().latencyMs !== null, pingMs + 3000, "connected again");
  console.log(`relay answering again: shown connected after ${Date.now() - answeringAt} ms`);
  expect(view().error).toBeNull();
}, 15_000);

test("a publish left without an OK probes at once: a relay gone silent is failed within the probe deadline, not at the next interval", async () => {
  const r = await relay();
  const pingMs = 500;
  const { pool, statuses, view } = makePool(r.url, { pingIntervalMs: 60_000, timeouts: { pingMs, publishMs: 300 } });
  pool.start();
  await until(() => view().state === "connected" && view().latencyMs !== null, 3000, "connected");
  const reqsBefore = r.connections()[0]!.reqs;
  r.setMode("silent");
  const t0 = Date.now();
  const [res] = await pool.publish(feedback());
  expect(res!.status).toBe("timeout");
  await until(() => statuses.some(notResponding), pingMs + 3000, "not responding");
  console.log(`silent relay found by a publish without OK: failed ${statuses.find(notResponding)!.at - t0} ms after the publish`);
  // The probe that found it was sent after the publish, not at the 60 s interval.
  expect(r.connections()[0]!.reqs).toBe(reqsBefore + 1);
});

test("a relay slow to answer is not dropped: connecting until its first answer, then connected, without flapping", async () => {
  const answerDelayMs = 700;
  const r = await relay({ answerDelayMs });
  const { pool, statuses, view } = makePool(r.url, { pingIntervalMs: 300, timeouts: { pingMs: 2500 } });
  const t0 = Date.now();
  pool.start();
  await until(() => view().error === AWAITING_ANSWER, 3000, "socket open");
  // An event sent while it has not answered yet still gets its (slow) OK.
  const [res] = await pool.publish(feedback(), { timeoutMs: 5000 });
  expect(res!.status).toBe("ok");
  await until(() => view().state === "connected" && view().latencyMs !== null, 5000, "connected");
  expect(statuses.find((s) => s.state === "connected")!.at - t0).toBeGreaterThanOrEqual(answerDelayMs - 50);
  // Several probes, each answered late, within their deadline: one connection, no flapping.
  const probes = r.connections()[0]!.reqs;
  await until(() => r.connections()[0]!.reqs >= probes + 3, 10_000, "three more probes");
  expect(r.connections()).toHaveLength(1);
  expect(runs(statuses)).toEqual(["connecting", "connected"]);
  expect(view().latencyMs!).toBeGreaterThanOrEqual(answerDelayMs - 50);
}, 20_000);
