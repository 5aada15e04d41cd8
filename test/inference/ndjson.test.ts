// postNdjson against the Ollama test server: one parse per line, and the failures in the forms
// the Ollama client gave them (callers map them to messages as before).
import { afterAll, beforeAll, beforeEach, expect, test } from "bun:test";
import { MalformedNdjson, postNdjson, ResponseError } from "../../src/inference/ndjson.ts";
import { startOllamaServer, type FakeOllama } from "../fixtures/ollama-server.ts";

let ollama: FakeOllama;
beforeAll(async () => {
  ollama = await startOllamaServer({ instant: true });
});
afterAll(() => ollama.stop());
beforeEach(() => ollama.setFault(null));

const body = (prompt = "say something") => JSON.stringify({ model: "llama3.2:latest", prompt, stream: true, options: { num_predict: 8 } });
const read = async (b = body()) => {
  const lines: Record<string, unknown>[] = [];
  for await (const l of postNdjson(`${ollama.url}/api/generate`, b, { signal: AbortSignal.timeout(10_000), maxLineBytes: 1 << 20 })) lines.push(l);
  return lines;
};

test("a stream arrives line by line, each parsed, the done line last; the request went as sent", async () => {
  ollama.clearRequests();
  const lines = await read();
  expect(lines.length).toBeGreaterThan(1);
  expect(lines.at(-1)!.done).toBe(true);
  expect(lines.slice(0, -1).every((l) => l.done === false && typeof l.response === "string")).toBe(true);
  const sent = ollama.requests("/api/generate")[0]!;
  expect((sent as { body?: unknown }).body).toEqual(JSON.parse(body()));
});

test("an HTTP error is a ResponseError with Ollama's text and status", async () => {
  await ollama.setFault("500", { message: "model exploded" });
  const err = await read().catch((e) => e);
  expect(err).toBeInstanceOf(ResponseError);
  expect(err.status_code).toBe(500);
  expect(err.error).toBe("model exploded");
  await ollama.setFault(null);
  const missing = await read(JSON.stringify({ model: "nope", prompt: "x", stream: true })).catch((e) => e);
  expect(missing).toBeInstanceOf(ResponseError);
  expect(missing.status_code).toBe(404);
});

test("an error line mid-stream ends it with Ollama's text; a line that is not JSON is MalformedNdjson", async () => {
  await ollama.setFault("error-line", { message: "out of memory", paths: ["/api/generate"] });
  const err = await read().catch((e) => e);
  expect(err).toBeInstanceOf(Error);
  expect(err.message).toContain("out of memory");
  await ollama.setFault("malformed", { paths: ["/api/generate"] });
  expect(await read().catch((e) => e)).toBeInstanceOf(MalformedNdjson);
});

test("a connection cut mid-stream rejects (not a clean end)", async () => {
  await ollama.setFault("cut", { paths: ["/api/generate"] });
  const err = await read().catch((e) => e);
  expect(err).toBeInstanceOf(Error);
  expect(err).not.toBeInstanceOf(ResponseError);
});
