// The runtime floor for idle memory: a minimal program, compiled the way build.ts compiles the
// product (bytecode, minified, ESM), that uses the runtime parts the product cannot do without and
// then sits idle: an HTTP server on 127.0.0.1, a SQLite file in WAL mode, one scrypt at the vault's
// parameters, zod, local-time dates, a websocket to a relay (REQ → EOSE), a fetch to Ollama, and,
// with --crypto js|wasm, one Nostr signature and verification (nostr-tools' pure JS, or nostr-wasm);
// then it trims its memory as the product does when idle.
// bench/startup.ts compiles it, runs it and reads its RSS. No product code is imported.
//   rss-floor <dataDir> <relayUrl> <ollamaUrl> [--crypto none|js|wasm]
import { Database } from "bun:sqlite";
import { scrypt } from "node:crypto";
import { join } from "node:path";
import { z } from "zod";

const [dataDir, relayUrl, ollamaUrl] = process.argv.slice(2);
const crypto = process.argv.includes("--crypto") ? process.argv[process.argv.indexOf("--crypto") + 1] : "none";
if (!dataDir || !relayUrl || !ollamaUrl) throw new Error("usage: rss-floor <dataDir> <relayUrl> <ollamaUrl> [--crypto none|js|wasm]");

const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => Response.json({ ok: true }) });

const db = new Database(join(dataDir, "floor.sqlite"), { create: true });
db.run("PRAGMA journal_mode = WAL");
db.run("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)");
db.query("INSERT INTO t (v) VALUES (?)").run("x");
db.query("SELECT * FROM t").all();

await new Promise<void>((resolve, reject) =>
  scrypt("password", "salt-salt-salt-s", 32, { N: 2 ** 17, r: 8, p: 1, maxmem: 256 * 1024 * 1024 }, (err) => (err ? reject(err) : resolve())),
);

const Schema = z.object({ id: z.string().length(64), kind: z.number().int(), tags: z.array(z.array(z.string())) });
for (let i = 0; i < 10; i++) Schema.safeParse({ id: "0".repeat(64), kind: 5050, tags: [["i", "x", "text"]] });
const midnight = new Date();
midnight.setHours(0, 0, 0, 0);

await new Promise<void>((resolve, reject) => {
  const ws = new WebSocket(relayUrl);
  ws.onopen = () => ws.send(JSON.stringify(["REQ", "floor", { kinds: [5050], limit: 1 }]));
  ws.onmessage = (m) => {
    if (String(m.data).startsWith('["EOSE"')) resolve();
  };
  ws.onerror = () => reject(new Error("relay unreachable"));
});
await (await fetch(`${ollamaUrl}/api/tags`)).json();

if (crypto === "js" || crypto === "wasm") {
  const sk = new Uint8Array(32).fill(7);
  const template = { kind: 7000, created_at: Math.floor(Date.now() / 1000), tags: [["status", "processing"]], content: "" };
  if (crypto === "js") {
    const { finalizeEvent, verifyEvent } = await import("nostr-tools/pure");
    if (!verifyEvent(finalizeEvent(template, sk))) throw new Error("signature did not verify");
  } else {
    const { initNostrWasm } = await import("nostr-wasm");
    const nw = await initNostrWasm();
    const event = { ...template, id: "", pubkey: "", sig: "" };
    nw.finalizeEvent(event, sk);
    nw.verifyEvent(event);
  }
}

// As the product does when it has been quiet (src/util/idle-trim.ts, restated: no product code
// here): drop compiled code and collect once background compilation is over, so both are read in
// the same state (bench/startup.ts reads the floor 8 s after "ready").
setTimeout(() => {
  Bun.shrink();
  Bun.gc(true);
}, 4000);
process.stdout.write(`ready ${server.port}\n`);
setInterval(() => {}, 60_000);
