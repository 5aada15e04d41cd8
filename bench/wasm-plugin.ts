// Experiment only (responder kind "provider-wasm"), loaded with `bun --preload`: what the product
// would gain from nostr-wasm without touching src/. A Bun runtime plugin rewrites nostr-tools'
// pure module as it loads so its finalizeEvent/verifyEvent go through nostr-wasm plugged into
// nostr-tools/wasm (the documented way); every other export stays the pure-JS one.
import { plugin } from "bun";

plugin({
  name: "bench: nostr-wasm behind nostr-tools/pure",
  setup(build) {
    build.onLoad({ filter: /nostr-tools[\\/]lib[\\/]esm[\\/]pure\.js$/ }, async ({ path }) => {
      const text = await Bun.file(path).text();
      const from = ["var finalizeEvent = i.finalizeEvent;", "var verifyEvent = i.verifyEvent;"];
      // Fail loudly if nostr-tools changed shape: a silent no-op would report pure-JS figures as wasm.
      for (const line of from) if (!text.includes(line)) throw new Error(`bench wasm plugin: "${line}" not found in ${path}`);
      const contents =
        `import { initNostrWasm as __initNostrWasm } from "nostr-wasm";\n` +
        `import * as __w from "nostr-tools/wasm";\n` +
        `__w.setNostrWasm(await __initNostrWasm());\n` +
        text.replace(from[0]!, "var finalizeEvent = __w.finalizeEvent;").replace(from[1]!, "var verifyEvent = __w.verifyEvent;");
      return { contents, loader: "js" };
    });
  },
});
