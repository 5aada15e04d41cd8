// url inputs: bounded work per request and per provider. A request naming many urls used to make
// one GET each (1,391 fit under maxInputBytes), each allowed maxInputBytes on its own. Real HTTP
// server on 127.0.0.1 (allowPrivateUrls: true lets it stand in for the third parties).
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Server } from "bun";
import { finalizeEvent, generateSecretKey, getPublicKey } from "nostr-tools/pure";
import { Limits } from "../../src/config.ts";
import { admit, type AdmissionContext } from "../../src/jobs/admission.ts";
import { isPrivateAddress, resolveInputs, type ResolveOptions } from "../../src/jobs/inputs.ts";
import { JOB_REQUEST_TEXT } from "../../src/nostr/kinds.ts";
import { parseJobRequest } from "../../src/nostr/nip90.ts";

let server: Server<unknown>;
let base: string;
/** Bytes /stream handed out before the client stopped reading, per request. */
const streamed: number[] = [];
let inFlight = 0;
let maxInFlight = 0;

beforeAll(() => {
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const url = new URL(req.url);
      if (url.pathname === "/small") return new Response("s".repeat(600), { headers: { "content-type": "text/plain" } });
      if (url.pathname === "/slow") {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await Bun.sleep(150);
        inFlight--;
        return new Response("slow", { headers: { "content-type": "text/plain" } });
      }
      if (url.pathname === "/stream") {
        const i = streamed.push(0) - 1;
        let sent = 0;
        const body = new ReadableStream({
          async pull(ctl) {
            await Bun.sleep(5);
            if (sent >= 20_000) return ctl.close();
            ctl.enqueue(new TextEncoder().encode("b".repeat(100)));
            sent += 100;
            streamed[i] = sent;
          },
        });
        return new Response(body, { headers: { "content-type": "text/plain" } });
      }
      return new Response("no", { status: 404 });
    },
  });
  base = `http://127.0.0.1:${server.port}`;
});
afterAll(() => server.stop(true));

const opts = (o: Partial<ResolveOptions> = {}): ResolveOptions => ({
  fetcher: { fetch: async () => [] },
  maxBytes: 1000,
  allowPrivateUrls: true,
  ...o,
});

test("an attacker's many-url request is refused at admission (default cap 4, configurable)", () => {
  const sk = generateSecretKey();
  const provider = generateSecretKey();
  const request = (n: number) => {
    const tags = Array.from({ length: n }, (_, i) => ["i", `https://victim.example/${i}`, "url"]);
    const ev = finalizeEvent({ kind: JOB_REQUEST_TEXT, created_at: Math.floor(Date.now() / 1000), tags, content: "" }, sk);
    const r = parseJobRequest(ev, { providerPubkey: getPublicKey(provider), providerSecretKey: provider });
    if (!r.ok) throw new Error(r.reason);
    return r.request;
  };
  const ctx = (limits: Partial<Limits> = {}): AdmissionContext => ({
    providerPubkey: getPublicKey(provider),
    now: Date.now(),
    limits: Limits.parse(limits),
    servedModels: ["m:latest"],
    seen: () => false,
    customerRecent: () => 0,
    activeCount: 0,
    queuedCount: 0,
    customerQueued: 0,
    price: 0,
    paymentMode: "free",
  });
  expect(Limits.parse({}).maxUrlInputs).toBe(4);
  expect(admit(request(4), ctx()).accept).toBe(true);
  const refused = admit(request(5), ctx());
  expect(refused).toEqual({ accept: false, silent: false, reason: "at most 4 url inputs per request; this one has 5" });
  expect(admit(request(1391), ctx()).accept).toBe(false);
  expect(admit(request(5), ctx({ maxUrlInputs: 8 })).accept).toBe(true);
});

test("the byte budget is one for all fetched inputs of a job: the second url is cut off once the first spent most of it", async () => {
  streamed.length = 0;
  const err = await resolveInputs(
    [
      { type: "url", data: `${base}/small` },
      { type: "url", data: `${base}/stream` },
    ],
    opts({ maxBytes: 1000 }),
  ).catch((e) => e as Error);
  expect(err).toBeInstanceOf(Error);
  expect((err as Error).message).toMatch(/1000-byte input limit/);
  await Bun.sleep(100);
  // 600 bytes were spent on /small: /stream may give at most the ~400 left (plus what was in flight).
  expect(streamed[0]!).toBeLessThan(900);
});

test("text inputs count against the same budget as fetched ones", async () => {
  streamed.length = 0;
  await resolveInputs(
    [
      { type: "text", data: "t".repeat(800) },
      { type: "url", data: `${base}/stream` },
    ],
    opts({ maxBytes: 1000 }),
  ).catch(() => {});
  await Bun.sleep(100);
  expect(streamed[0]!).toBeLessThan(700);
});

test("outbound fetches are limited provider-wide: 40 jobs at once make at most 8 requests at a time", async () => {
  maxInFlight = 0;
  const jobs = Array.from({ length: 40 }, () => resolveInputs([{ type: "url", data: `${base}/slow` }], opts()));
  const out = await Promise.all(jobs);
  expect(out.every((t) => t === "slow")).toBe(true);
  expect(maxInFlight).toBeLessThanOrEqual(8);
  expect(maxInFlight).toBeGreaterThan(1);
}, 20_000);

test("the url guard refuses the documentation ranges, NAT64 local-use, SIIT-mapped and 6to4-of-private addresses", () => {
  for (const ip of ["192.0.2.1", "198.51.100.7", "203.0.113.9", "2001:db8::1", "3fff::1", "64:ff9b:1::808:808", "64:ff9b::7f00:1", "::ffff:0:7f00:1", "::ffff:127.0.0.1", "2002:a00:1::", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "100::1"]) {
    expect({ ip, private: isPrivateAddress(ip) }).toEqual({ ip, private: true });
  }
  for (const ip of ["8.8.8.8", "2606:4700::1111", "64:ff9b::808:808", "2002:808:808::1"]) {
    expect({ ip, private: isPrivateAddress(ip) }).toEqual({ ip, private: false });
  }
});
