// The dashboard's stream types (ui/events.ts) against the events the server defines: the names the
// UI listens for are the `defineEvent` names, every one of them, so a server that names its SSE
// events (`event: relay.status.changed`) reaches the page with each.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { STREAM_TYPES } from "../../ui/events.ts";

const SRC = join(import.meta.dir, "../../src");

test("the UI's stream types are exactly the server's event definitions plus server.connected and server.heartbeat", async () => {
  // Every module of src/ that defines events (found by reading, so a new one is not missed).
  const files: string[] = [];
  for await (const f of new Bun.Glob("**/*.ts").scan(SRC)) {
    if ((await Bun.file(join(SRC, f)).text()).includes("defineEvent(")) files.push(f);
  }
  expect(files.length).toBeGreaterThan(5);
  const defined = new Set<string>();
  for (const f of files) {
    for (const v of Object.values(await import(join(SRC, f)))) {
      if (v && typeof v === "object" && "type" in v && "schema" in v && typeof v.type === "string") defined.add(v.type);
    }
  }
  expect(([...STREAM_TYPES] as string[]).sort()).toEqual([...defined, "server.connected", "server.heartbeat"].sort());
});

test("the bundle's event types cross from src/ as types only", async () => {
  const text = await Bun.file(join(import.meta.dir, "../../ui/events.ts")).text();
  const fromSrc = text.split("\n").filter((l) => /^import .* from "\.\.\/src\//.test(l));
  expect(fromSrc.length).toBeGreaterThan(0);
  for (const line of fromSrc) expect(line).toStartWith("import type ");
});
