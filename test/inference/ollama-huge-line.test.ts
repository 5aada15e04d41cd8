// An "Ollama" that answers a generation with one NDJSON line that never ends: the stream fails at
// 1 MiB with a clear error, rather than be held in memory until the stall timeout or the end.
// The server is a tiny local Bun.serve speaking Ollama's version/tags/generate (the Ollama test
// server has no such fault).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Bus } from "../../src/bus.ts";
import { AppError } from "../../src/errors.ts";
import { Inference } from "../../src/inference/ollama.ts";

let server: ReturnType<typeof Bun.serve>;
let sent = 0;

beforeAll(() => {
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/api/version") return Response.json({ version: "0.6.5" });
      if (path === "/api/tags") return Response.json({ models: [{ name: "llama3.2:latest", size: 1 }] });
      const piece = new TextEncoder().encode("x".repeat(1 << 16));
      const body = new ReadableStream<Uint8Array>({
        async pull(c) {
          if (sent === 0) c.enqueue(new TextEncoder().encode('{"response":"'));
          c.enqueue(piece);
          sent += piece.length;
          if (sent > 1 << 30) c.close();
          await Bun.sleep(0);
        },
      });
      return new Response(body, { headers: { "content-type": "application/x-ndjson" } });
    },
  });
});
afterAll(() => server.stop(true));

test("a generation line that never ends fails at 1 MiB with the reason, not after gigabytes", async () => {
  const inf = new Inference({ url: `http://127.0.0.1:${server.port}`, bus: new Bus(), servedModels: null, probeIntervalMs: 60_000, stallTimeoutMs: 20_000 });
  try {
    const err = await inf.generate({ model: "llama3.2:latest", prompt: "hi" }).catch((e) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err.message).toMatch(/sent a reply that could not be read \(a line longer than 1 MiB\)/);
    expect(err.data.bad).toBe(true);
    expect(sent).toBeLessThan(64 << 20);
  } finally {
    inf.stop();
  }
});
