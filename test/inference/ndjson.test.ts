// NdjsonLines: how ollama.ts cuts Ollama's streamed replies into lines to check them on their way
// to the client (the checks against the Ollama test server are in ollama.test.ts and
// ollama-huge-line.test.ts).
import { expect, test } from "bun:test";
import { MalformedNdjson, NdjsonLines } from "../../src/inference/ndjson.ts";

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
