// postNdjson against the Ollama test server: one parse per line, and the failures in the forms
// the Ollama client gave them (callers map them to messages as before).
import { afterAll, beforeAll, beforeEach, expect, test } from "bun:test";
import { MalformedNdjson, NdjsonLines, postNdjson, ResponseError } from "../../src/inference/ndjson.ts";
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

test("NdjsonLines: lines cut across chunks (and inside a character) come out whole; a line without an end fails past the limit", () => {
  const bytes = new TextEncoder().encode('{"a":"é"}\n\n{"b":1}\n{"c"');
  const lines = new NdjsonLines(1 << 20);
  const out: string[] = [];
  for (const cut of [[0, 7], [7, 12], [12, bytes.length]] as const) {
    lines.push(bytes.subarray(...cut));
    for (let l = lines.next(); l !== null; l = lines.next()) out.push(l);
  }
  expect(out).toEqual(['{"a":"é"}', "", '{"b":1}']);
  expect(lines.end()).toBe('{"c"');
  const small = new NdjsonLines(8);
  small.push(new TextEncoder().encode("123\n123456789"));
  expect(small.next()).toBe("123");
  expect(() => small.next()).toThrow(MalformedNdjson);
});
