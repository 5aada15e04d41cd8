#!/usr/bin/env bun
// argv → command. Nothing else lives here.
import { AppError, errorMessage } from "./errors.ts";
import { startupJitPolicy } from "./util/jit-policy.ts";
import { VERSION } from "./version.ts";

const HELP = `compute ${VERSION}: sell spare GPU time for bitcoin.

Usage:
  compute [options]              open the dashboard window and run the provider
  compute --headless [options]   run without a window; the dashboard is served on localhost
  compute init [--import] [--words 12|24] [--force]   create or import the seed phrase
  compute status [--json]        identity, online state, relays, Ollama, earnings
  compute ask "prompt" [...]     send a text-generation job to providers and print the answer
  compute selftest               send a job to this provider through its relays and time it
  compute earnings [--json]      today / week / all time
  compute market [--since 7d]    other providers, demand and prices on the relays
  compute price suggest|floor    a price from the market, your speed and your floor
  compute benchmark [--model M]  time to first token, tokens/s and jobs/hour of each model
  compute wallet balance|receive|send|history|address   the Lightning wallet
  compute password               change the vault password
  compute service install|uninstall|status|logs   run in the background, started by the system
  compute --version              print the version

Run \`compute COMMAND --help\` for a command's options.`;

type Command = (args: string[]) => Promise<number>;

const COMMANDS: Record<string, () => Promise<Command>> = {
  run: async () => (await import("./cli/run.ts")).run,
  init: async () => (await import("./cli/init.ts")).init,
  status: async () => (await import("./cli/status.ts")).status,
  ask: async () => (await import("./cli/ask.ts")).ask,
  selftest: async () => (await import("./cli/selftest.ts")).selftest,
  password: async () => (await import("./cli/password.ts")).password,
  earnings: async () => (await import("./cli/earnings.ts")).earnings,
  wallet: async () => (await import("./cli/wallet.ts")).wallet,
  market: async () => (await import("./cli/market.ts")).market,
  price: async () => (await import("./cli/price.ts")).price,
  benchmark: async () => (await import("./cli/benchmark.ts")).benchmark,
  // Internal, not in HELP: the window process the app starts (src/window/window.ts).
  window: async () => (await import("./cli/window.ts")).window,
  service: async () => (await import("./cli/service.ts")).service,
};

export async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === "--version" || first === "-v" || first === "version") {
    process.stdout.write(`compute ${VERSION}\n`);
    return 0;
  }
  if (first === "help" || ((first === "--help" || first === "-h") && rest.length === 0)) {
    process.stdout.write(HELP + "\n");
    return 0;
  }
  let name = "run";
  let args = argv;
  if (first && !first.startsWith("-")) {
    if (!Object.hasOwn(COMMANDS, first)) {
      process.stderr.write(`compute: unknown command '${first}'; run \`compute --help\` for the list.\n`);
      return 2;
    }
    name = first;
    args = rest;
  }
  // The long-running command starts with the JIT held back; App.start puts it back (util/jit-policy.ts).
  if (name === "run") startupJitPolicy();
  try {
    const command = await COMMANDS[name]!();
    return await command(args);
  } catch (err) {
    const code = err instanceof AppError && err.code === "usage" ? 2 : 1;
    process.stderr.write(`compute: ${errorMessage(err)}\n`);
    return code;
  }
}

if (import.meta.main) {
  const code = await main(process.argv.slice(2));
  // Long-running commands resolve only when they are done; exit so no stray handle keeps us alive.
  process.exit(code);
}
