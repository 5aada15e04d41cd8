// The thing under test, run in a child process so its CPU time and memory are its own (the relay,
// the customers and the fake Ollama stay in the parent). Kinds:
//   provider    – the product's Engine wired the way src/app.ts wires it (RelayPool, Inference,
//                 Ledger in a temp dir, Bus), free mode, against the local relay and fake Ollama;
//                 signatures by src/nostr/signer.ts (nostr-wasm once loaded, as in the product);
//   provider-js – the same with COMPUTE_NOSTR_WASM=0 (the signer's pure-JS fallback);
//   floor       – the least a correct NIP-90 responder must do: verify each 5050 (nostr-tools'
//                 Relay does), sign and publish one 7000 "processing" and one 6050 result;
//   floor-wasm  – the same floor with nostr-wasm plugged into nostr-tools/wasm for sign/verify.
// Parent ↔ child over Bun IPC: the child says {t:"ready"}; {t:"mark"} asks for a CPU/RSS reading;
// {t:"limits"} changes the provider's concurrency; {t:"stop"} ends it.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AbstractRelay } from "nostr-tools/abstract-relay";
import * as pure from "nostr-tools/pure";
import type { Event, EventTemplate } from "nostr-tools/pure";
import { procStatusKb } from "./util.ts";

export type ResponderKind = "provider" | "provider-js" | "floor" | "floor-wasm";
export const RESPONDER_KINDS: readonly ResponderKind[] = ["provider", "floor", "provider-js", "floor-wasm"];
export const isProvider = (k: ResponderKind) => k === "provider" || k === "provider-js";

/**
 * What-if switches for the provider, to price each part of its per-job cost (the Engine takes its
 * dependencies as interfaces, so these wrap them; src/ is unchanged):
 *   memory-ledger   – the ledger in ":memory:" (no WAL file writes);
 *   no-http         – inference answers at once without calling Ollama (no HTTP, no client);
 *   no-cancel-watch – the engine's per-job-set kind 5 subscription is swallowed (no REQ/CLOSE);
 *   quiet-logs      – log level "warn" instead of the default "info".
 */
export const ABLATIONS = ["memory-ledger", "no-http", "no-cancel-watch", "quiet-logs"] as const;
export type Ablation = (typeof ABLATIONS)[number];

export interface ResponderArgs {
  kind: ResponderKind;
  ablate?: Ablation[];
  relayUrl: string;
  ollamaUrl: string;
  maxConcurrentJobs: number;
  /**
   * floor only: between the processing feedback and the result, one streamed /api/generate call to
   * the fake Ollama (NDJSON read line by line, each line parsed once), as the issue-16 floor does.
   */
  ollamaCall?: boolean;
  /** The responder's key (hex), so the bench can sign requests to it before it starts; default a new one. */
  secretKeyHex?: string;
}

export type ToChild = { t: "mark" } | { t: "limits"; maxConcurrentJobs: number } | { t: "stop" };
export type FromChild =
  | { t: "ready"; pubkey: string; setupMs: number; signer: "js" | "wasm" }
  | { t: "mark"; userUs: number; systemUs: number; rssKb: number | null; hwmKb: number | null }
  | { t: "limits" }
  | { t: "error"; message: string };

const send = (msg: FromChild) => process.send!(msg);

async function startProvider(args: ResponderArgs, secretKey: Uint8Array, pubkey: string) {
  const { Bus } = await import("../src/bus.ts");
  const { ConfigSchema } = await import("../src/config.ts");
  const { Inference } = await import("../src/inference/ollama.ts");
  const { Engine } = await import("../src/jobs/engine.ts");
  const { Ledger } = await import("../src/ledger/ledger.ts");
  const { RelayPool } = await import("../src/nostr/pool.ts");
  const { setLogLevel } = await import("../src/log.ts");
  const { initSigner } = await import("../src/nostr/signer.ts");
  // The product's default level; the parent sends our stderr to /dev/null, so the cost of
  // formatting the per-job log lines is counted but nothing is shown.
  const off = new Set(args.ablate ?? []);
  setLogLevel(off.has("quiet-logs") ? "warn" : "info");
  const raw = (n: number) => ({
    relays: [args.relayUrl],
    ollamaUrl: args.ollamaUrl,
    pricing: { mode: "free" },
    limits: { maxConcurrentJobs: n, queueSize: 10_000, maxQueuedPerCustomer: 10_000, perCustomerPerMinute: 100_000, partialIntervalMs: 600_000 },
  });
  let config = ConfigSchema.parse(raw(args.maxConcurrentJobs));
  // The pool loads nostr-wasm when it starts; waiting here keeps the load out of the warm-up.
  const signer = await initSigner();
  const dir = mkdtempSync(join(tmpdir(), "compute-bench-"));
  const bus = new Bus();
  const ledger = Ledger.open(off.has("memory-ledger") ? ":memory:" : join(dir, "ledger.db"));
  const inference = new Inference({ url: args.ollamaUrl, bus, servedModels: null });
  await inference.start();
  const pool = new RelayPool({ relays: [args.relayUrl], bus, signer: { secretKey }, allowInsecureLocal: true });
  type EngineDeps = ConstructorParameters<typeof Engine>[0];
  const engineInference: EngineDeps["inference"] = off.has("no-http")
    ? {
        servedModels: () => inference.servedModels(),
        warm: async () => {},
        generate: async (o) => {
          o.onToken("echo", 1);
          return { text: "echo", tokens: 1, tokensPerSec: null };
        },
      }
    : inference;
  const enginePool: EngineDeps["pool"] = off.has("no-cancel-watch")
    ? {
        subscribe(filters, handlers) {
          const f = filters[0] as { kinds?: number[]; "#e"?: string[] } | undefined;
          if (filters.length === 1 && f?.kinds?.length === 1 && f.kinds[0] === 5 && f["#e"]) return { close() {} };
          return pool.subscribe(filters, handlers as Parameters<typeof pool.subscribe>[1]);
        },
        publish: (event, opts) => pool.publish(event, opts),
        fetch: (filters, opts) => pool.fetch(filters, opts),
      }
    : pool;
  pool.start();
  const deadline = Date.now() + 10_000;
  while (!pool.views().every((v) => v.state === "connected")) {
    if (Date.now() > deadline) throw new Error("the provider's pool did not connect to the bench relay");
    await Bun.sleep(5);
  }
  const engine = new Engine({ bus, pool: enginePool, inference: engineInference, ledger, payments: null, secretKey, pubkey, config: () => config });
  await engine.goOnline();
  return {
    signer,
    setLimits(n: number) {
      config = ConfigSchema.parse(raw(n));
    },
    async stop() {
      await engine.stop(2000);
      await pool.stop();
      inference.stop();
      ledger.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function startFloor(args: ResponderArgs, secretKey: Uint8Array, pubkey: string, wasm: boolean) {
  let finalize: (t: EventTemplate, sk: Uint8Array) => Event = pure.finalizeEvent;
  let verify: (e: Event) => boolean = pure.verifyEvent;
  if (wasm) {
    // nostr-wasm ships with nostr-tools (its dependency); plugged in the documented way.
    const { initNostrWasm } = await import("nostr-wasm");
    const w = await import("nostr-tools/wasm");
    w.setNostrWasm(await initNostrWasm());
    finalize = w.finalizeEvent;
    verify = w.verifyEvent;
  }
  // The floor's model: the first one the fake lists (the product picks its default the same way).
  const model = args.ollamaCall ? (((await (await fetch(`${args.ollamaUrl}/api/tags`)).json()) as { models: { name: string }[] }).models[0]?.name ?? "llama3.2:latest") : "";
  const generate = async (prompt: string): Promise<string> => {
    const res = await fetch(`${args.ollamaUrl}/api/generate`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model, prompt, stream: true, options: { num_predict: 32 } }),
    });
    if (!res.ok || !res.body) throw new Error(`ollama: HTTP ${res.status}`);
    let text = "";
    let pending = "";
    const decoder = new TextDecoder();
    for await (const chunk of res.body) {
      pending += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (line) text += (JSON.parse(line) as { response?: string }).response ?? "";
      }
    }
    return text;
  };
  const relay = new AbstractRelay(args.relayUrl, { verifyEvent: verify });
  await relay.connect();
  const publish = (t: EventTemplate) => relay.publish(finalize(t, secretKey)).catch(() => {});
  relay.subscribe([{ kinds: [5050], since: Math.floor(Date.now() / 1000) }], {
    onevent(req) {
      const now = Math.floor(Date.now() / 1000);
      const refs = [
        ["e", req.id, args.relayUrl],
        ["p", req.pubkey],
      ];
      // NIP-90: feedback 7000 with a status tag, then the result 6050 carrying the request.
      void publish({ kind: 7000, created_at: now, content: "", tags: [["status", "processing"], ...refs] });
      const input = req.tags.find((t) => t[0] === "i")?.[1] ?? "";
      const result = (content: string) => void publish({ kind: 6050, created_at: Math.floor(Date.now() / 1000), content, tags: [["request", JSON.stringify(req)], ...refs] });
      if (!args.ollamaCall) return result(`echo: ${input}`);
      generate(input).then(result, (err) => void publish({ kind: 7000, created_at: now, content: "", tags: [["status", "error", String(err)], ...refs] }));
    },
  });
  void pubkey;
  return {
    signer: (wasm ? "wasm" : "js") as "wasm" | "js",
    setLimits(_n: number) {},
    async stop() {
      relay.close();
    },
  };
}

async function main() {
  const args = JSON.parse(process.argv[2] ?? "{}") as ResponderArgs;
  const t0 = performance.now();
  const secretKey = args.secretKeyHex ? Uint8Array.from(Buffer.from(args.secretKeyHex, "hex")) : pure.generateSecretKey();
  const pubkey = pure.getPublicKey(secretKey);
  const responder = isProvider(args.kind) ? await startProvider(args, secretKey, pubkey) : await startFloor(args, secretKey, pubkey, args.kind === "floor-wasm");
  process.on("message", async (msg: ToChild) => {
    if (msg.t === "mark") {
      const u = process.cpuUsage();
      send({ t: "mark", userUs: u.user, systemUs: u.system, rssKb: procStatusKb("self", "VmRSS"), hwmKb: procStatusKb("self", "VmHWM") });
    } else if (msg.t === "limits") {
      responder.setLimits(msg.maxConcurrentJobs);
      send({ t: "limits" });
    } else if (msg.t === "stop") {
      await responder.stop().catch(() => {});
      process.exit(0);
    }
  });
  // Which implementation signs and verifies in this process (the provider's: src/nostr/signer.ts).
  send({ t: "ready", pubkey, setupMs: performance.now() - t0, signer: responder.signer });
}

// Only when run as the child: bench/index.ts imports this file for its types and ABLATIONS.
if (import.meta.main) {
  main().catch((err) => {
    send({ t: "error", message: String((err as Error)?.stack ?? err) });
    process.exit(1);
  });
}
