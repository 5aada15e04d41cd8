// resolveInputs: text, event, job (chaining) and url inputs, with a scripted fetcher for the relay
// side and a real HTTP server on 127.0.0.1 for urls.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Server } from "bun";
import type { Filter } from "nostr-tools/filter";
import { AppError } from "../../src/errors.ts";
import { isPrivateAddress, pinnedRequest, resolveInputs, type InputFetcher, type ResolveOptions } from "../../src/jobs/inputs.ts";

type Ev = { id: string; kind: number; content: string; tags: string[][] };
const ID = (c: string) => c.repeat(64);

function scripted(answer: (filters: Filter[], call: number) => Ev[]) {
  const calls: Array<{ filters: Filter[]; opts: { timeoutMs?: number; extraRelays?: string[] } }> = [];
  const fetcher: InputFetcher = {
    async fetch(filters, opts) {
      calls.push({ filters, opts });
      return answer(filters, calls.length);
    },
  };
  return { fetcher, calls };
}

const none = scripted(() => []).fetcher;
const base = (o: Partial<ResolveOptions> = {}): ResolveOptions => ({ fetcher: none, maxBytes: 10_000, allowPrivateUrls: false, ...o });

async function rejection(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(
    () => null,
    (e) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

describe("text", () => {
  test("inputs joined in order with a blank line; empty or oversized prompts refused", async () => {
    expect(await resolveInputs([{ type: "text", data: "a" }, { type: "text", data: "b" }, { type: "text", data: "c" }], base())).toBe("a\n\nb\n\nc");
    expect((await rejection(resolveInputs([{ type: "text", data: "   " }], base()))).message).toContain("no prompt");
    const big = await rejection(resolveInputs([{ type: "text", data: "é".repeat(10) }], base({ maxBytes: 15 })));
    expect(big.message).toBe("input is 20 bytes; this provider accepts at most 15");
  });
});

describe("event", () => {
  test("the event's content, asked for by id with the relay hint", async () => {
    const s = scripted(() => [{ id: ID("a"), kind: 1, content: "note text", tags: [] }]);
    const out = await resolveInputs([{ type: "text", data: "Summarise:" }, { type: "event", data: ID("a"), relay: "wss://hint.example" }], base({ fetcher: s.fetcher }));
    expect(out).toBe("Summarise:\n\nnote text");
    expect(s.calls[0]!.filters).toEqual([{ ids: [ID("a")], limit: 1 }]);
    expect(s.calls[0]!.opts.extraRelays).toEqual(["wss://hint.example"]);
  });

  test("not found, a different id returned, or a bad id → a clear error", async () => {
    expect((await rejection(resolveInputs([{ type: "event", data: ID("a") }], base()))).message).toContain("was not found");
    const wrong = scripted(() => [{ id: ID("b"), kind: 1, content: "other", tags: [] }]);
    expect((await rejection(resolveInputs([{ type: "event", data: ID("a") }], base({ fetcher: wrong.fetcher })))).message).toContain("was not found");
    expect((await rejection(resolveInputs([{ type: "event", data: "note1xyz" }], base()))).message).toContain("64-hex");
  });
});

describe("job (chaining)", () => {
  test("polls until a result of that job appears, skipping encrypted ones", async () => {
    const s = scripted((_f, call) => {
      if (call < 3) return [];
      return [
        { id: ID("1"), kind: 6050, content: "ciphertext", tags: [["e", ID("a")], ["encrypted"]] },
        { id: ID("2"), kind: 6050, content: "the first result", tags: [["e", ID("a")]] },
      ];
    });
    const started = Date.now();
    const out = await resolveInputs([{ type: "job", data: ID("a") }], base({ fetcher: s.fetcher, jobPollMs: 20 }));
    expect(out).toBe("the first result");
    expect(s.calls).toHaveLength(3);
    expect(s.calls[0]!.filters).toEqual([{ kinds: [6050], "#e": [ID("a")], limit: 5 }]);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  test("gives up after jobTimeoutMs; an abort stops the wait at once", async () => {
    const t0 = Date.now();
    const late = await rejection(resolveInputs([{ type: "job", data: ID("a") }], base({ jobTimeoutMs: 150, jobPollMs: 20 })));
    expect(late.message).toContain("appeared in time");
    expect(Date.now() - t0).toBeLessThan(1000);
    const ctl = new AbortController();
    const p = resolveInputs([{ type: "job", data: ID("a") }], base({ jobPollMs: 10_000, signal: ctl.signal }));
    await Bun.sleep(30);
    const t1 = Date.now();
    ctl.abort(new AppError("conflict", "cancelled by the customer"));
    const err = await rejection(p);
    expect(err.message).toBe("cancelled by the customer");
    expect(Date.now() - t1).toBeLessThan(200);
  });
});

describe("url", () => {
  let server: Server<undefined>;
  let slowAbort = 0;
  beforeAll(() => {
    server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(req) {
        const path = new URL(req.url).pathname;
        if (path === "/ok") return new Response("page body", { headers: { "content-type": "text/html; charset=utf-8" } });
        if (path === "/json") return Response.json({ a: 1 });
        if (path === "/big") return new Response("x".repeat(50_000), { headers: { "content-type": "text/plain" } });
        if (path === "/image") return new Response(new Uint8Array([137, 80, 78, 71]), { headers: { "content-type": "image/png" } });
        if (path === "/missing") return new Response("no", { status: 404 });
        if (path === "/redirect") return Response.redirect("http://127.0.0.1:1/elsewhere", 302);
        if (path === "/slow") {
          return new Response(
            new ReadableStream({
              async pull(c) {
                await Bun.sleep(50);
                c.enqueue(new TextEncoder().encode("."));
              },
              cancel() {
                slowAbort++;
              },
            }),
            { headers: { "content-type": "text/plain" } },
          );
        }
        return new Response("?", { status: 500 });
      },
    });
  });
  afterAll(() => server.stop(true));
  const u = (path: string) => `http://127.0.0.1:${server.port}${path}`;
  const allowed = (o: Partial<ResolveOptions> = {}) => base({ allowPrivateUrls: true, ...o });

  test("fetched when private addresses are allowed (text and JSON)", async () => {
    expect(await resolveInputs([{ type: "url", data: u("/ok") }], allowed())).toBe("page body");
    expect(await resolveInputs([{ type: "url", data: u("/json") }], allowed())).toBe('{"a":1}');
  });

  test("refused: private address, localhost name, IPv4-mapped IPv6 loopback, non-http schemes, bad URLs", async () => {
    for (const url of [u("/ok"), `http://localhost:${server.port}/ok`, `http://[::ffff:127.0.0.1]:${server.port}/ok`, "http://[::1]/", "http://10.1.2.3/", "http://0x7f000001/"]) {
      expect((await rejection(resolveInputs([{ type: "url", data: url }], base()))).message).toContain("private address");
    }
    expect((await rejection(resolveInputs([{ type: "url", data: "file:///etc/passwd" }], allowed()))).message).toContain("http:// or https://");
    expect((await rejection(resolveInputs([{ type: "url", data: "not a url" }], allowed()))).message).toContain("not a valid URL");
  });

  test("the check uses the resolver once: a name resolving to a private address is refused", async () => {
    const asked: string[] = [];
    const resolveHost = async (host: string) => {
      asked.push(host);
      return ["192.168.1.10"];
    };
    expect((await rejection(resolveInputs([{ type: "url", data: "http://printer.example/status" }], base({ resolveHost })))).message).toContain("private address");
    expect(asked).toEqual(["printer.example"]);
    const nothing = async () => [];
    expect((await rejection(resolveInputs([{ type: "url", data: "http://gone.example/" }], base({ resolveHost: nothing })))).message).toBe("cannot resolve gone.example");
  });

  test("DNS rebinding: plain http connects to the address that was checked, with the original Host", () => {
    expect(pinnedRequest(new URL("http://news.example:8080/a/b?c=1#frag"), "93.184.216.34")).toEqual({
      url: "http://93.184.216.34:8080/a/b?c=1#frag",
      headers: { host: "news.example:8080" },
    });
    expect(pinnedRequest(new URL("http://news.example/"), "2001:db8::7")).toEqual({ url: "http://[2001:db8::7]/", headers: { host: "news.example" } });
    // https keeps the name (the certificate must match it); an IP literal needs no pinning.
    expect(pinnedRequest(new URL("https://news.example/x"), "93.184.216.34")).toEqual({ url: "https://news.example/x", headers: {} });
    expect(pinnedRequest(new URL("http://93.184.216.34/x"), "93.184.216.34")).toEqual({ url: "http://93.184.216.34/x", headers: {} });
  });

  test("a pinned request reaches the server with the name it was asked for", async () => {
    // The pinned form of a url, fetched as fetchUrl fetches it, against the local server.
    let host = "";
    const echo = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req) => ((host = req.headers.get("host") ?? ""), new Response("ok")) });
    try {
      const req = pinnedRequest(new URL(`http://news.example:${echo.port}/p`), "127.0.0.1");
      const res = await fetch(req.url, { headers: req.headers, redirect: "error" });
      expect(await res.text()).toBe("ok");
      expect(host).toBe(`news.example:${echo.port}`);
    } finally {
      echo.stop(true);
    }
  });

  test("size cap, HTTP errors, non-text content, redirects and timeouts give clear errors", async () => {
    expect((await rejection(resolveInputs([{ type: "url", data: u("/big") }], allowed({ maxBytes: 1000 })))).message).toBe("the url's content is larger than 1000 bytes");
    expect((await rejection(resolveInputs([{ type: "url", data: u("/missing") }], allowed()))).message).toContain("HTTP 404");
    expect((await rejection(resolveInputs([{ type: "url", data: u("/image") }], allowed()))).message).toContain("image/png, not text");
    expect((await rejection(resolveInputs([{ type: "url", data: u("/redirect") }], allowed()))).message).toContain("could not fetch");
    const t0 = Date.now();
    expect((await rejection(resolveInputs([{ type: "url", data: u("/slow") }], allowed({ urlTimeoutMs: 200 })))).message).toContain("took longer than");
    expect(Date.now() - t0).toBeLessThan(1500);
  });

  test("an abort (the job was cancelled) stops the download with the abort's reason", async () => {
    const ctl = new AbortController();
    const p = resolveInputs([{ type: "url", data: u("/slow") }], allowed({ signal: ctl.signal }));
    await Bun.sleep(120);
    ctl.abort(new AppError("conflict", "cancelled by the customer"));
    expect((await rejection(p)).message).toBe("cancelled by the customer");
    await Bun.sleep(100);
    expect(slowAbort).toBeGreaterThan(0);
  });
});

describe("isPrivateAddress", () => {
  test.each([
    ["127.0.0.1", true],
    ["10.0.0.1", true],
    ["172.16.5.4", true],
    ["172.32.0.1", false],
    ["192.168.1.1", true],
    ["169.254.169.254", true],
    ["100.64.0.1", true],
    ["0.0.0.0", true],
    ["224.0.0.1", true],
    ["8.8.8.8", false],
    ["::1", true],
    ["::", true],
    ["::ffff:127.0.0.1", true],
    ["::ffff:7f00:1", true],
    ["::ffff:8.8.8.8", false],
    ["64:ff9b::a00:1", true],
    ["2002:c0a8:101::", true],
    ["fd12::1", true],
    ["fe80::1%eth0", true],
    ["fec0::1", true],
    ["ff02::1", true],
    ["2606:4700:4700::1111", false],
    ["not an ip", true],
  ])("%s → %p", (ip, expected) => {
    expect(isPrivateAddress(ip)).toBe(expected);
  });
});
