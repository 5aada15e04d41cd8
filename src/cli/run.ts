// `compute` (window) and `compute --headless`: run the services until a signal or the window closes.
import { App } from "../app.ts";
import { paths } from "../paths.ts";
import { Vault } from "../identity/vault.ts";
import { AppError } from "../errors.ts";
import { readLock } from "../util/lock.ts";
import { COMMON_HELP, configFlagsFrom, dataDirFrom, parse, readPassword } from "./common.ts";

const HELP = `Usage: compute [--headless] [options]

Runs the provider: the relays, the job engine, the wallet and the dashboard. Without --headless a
native window shows the dashboard; with it the dashboard is served on localhost and its URL printed.

Options:
  --headless                      no window; print the dashboard URL
  --online                        go online at start, or as soon as it can (a wallet still
                                  connecting, Ollama not up yet, a locked identity)
  --payment-mode upfront|after|free   how jobs are charged, for this run
  --price-msats N                 price per job in millisats, for this run
  --price-per-1k-tokens-msats N   price per 1,000 output tokens in millisats, for this run
  --password-from secret-store|file:PATH   the vault password from the system's secret store or
                                  from a file only you can read (mode 600); what a service uses
${COMMON_HELP}`;

const say = (line: string) => process.stderr.write(`compute: ${line}\n`);
/** Settles on the first SIGINT or SIGTERM. */
const signalled = () => new Promise<void>((r) => (process.once("SIGTERM", () => r()), process.once("SIGINT", () => r())));

export async function run(args: string[]): Promise<number> {
  const { values } = parse(args, {
    headless: { type: "boolean" },
    online: { type: "boolean" },
    "password-from": { type: "string" },
    "payment-mode": { type: "string" },
    "price-msats": { type: "string" },
    "price-per-1k-tokens-msats": { type: "string" },
  });
  if (values.help) {
    process.stdout.write(HELP + "\n");
    return 0;
  }
  const dataDir = dataDirFrom(values);
  const headless = Boolean(values.headless);
  const window = headless ? null : await import("../window/window.ts");
  window?.assertDisplay();

  const running = readLock(dataDir);
  if (running?.url) {
    if (window && running.token) {
      // A second `compute`: show the running one instead of starting another.
      process.stderr.write(`compute is already running (pid ${running.pid}); opening its dashboard.\n`);
      return await window.windowOnRunning(`${running.url}/?token=${running.token}`, { stop: signalled(), say });
    }
    throw new AppError("conflict", `compute is already running on this data dir (pid ${running.pid}, dashboard at ${running.url}); stop it first or use another --data-dir.`);
  }

  const hasVault = Vault.exists(paths(dataDir).vault);
  // A service (src/service/) names where to fetch the password: the secret store or a 0600 file.
  const from = values["password-from"];
  const password = !hasVault ? null : from ? await (await import("../service/secrets.ts")).passwordFrom(from, dataDir) : await readPassword(values, { prompt: "Vault password: ", required: headless });
  if (headless && !hasVault) {
    throw new AppError("not_found", "No identity yet: run `compute init` first (or start `compute` with a window to create one there).");
  }

  const app = await App.start({ dataDir, flags: configFlagsFrom(values), password });
  if (!["127.0.0.1", "localhost", "::1"].includes(app.config.host)) {
    process.stderr.write(
      `compute: WARNING: the dashboard and API listen on ${app.config.host}, reachable from other machines. ` +
        `Anyone with the link's token controls this provider and its wallet; use --host 127.0.0.1 unless you mean it.\n`,
    );
  }
  let stopping: Promise<void> | null = null;
  const shutdown = (why: string) => {
    stopping ??= (async () => {
      process.stderr.write(`compute: stopping (${why})…\n`);
      await app.stop();
    })();
    return stopping;
  };
  process.once("SIGINT", () => void shutdown("SIGINT"));
  process.once("SIGTERM", () => void shutdown("SIGTERM"));

  if (app.config.online) await app.keepOnline((line) => process.stderr.write(`compute: ${line}\n`));

  if (window) {
    process.stderr.write(`compute: dashboard window opened (also at ${app.url})\n`);
    // The window is a process of its own (src/window/window.ts); closing it stops the app, a crash
    // of it reopens it (a few times), a signal closes it.
    const how = await window.superviseWindow(app.url, { stop: signalled(), say });
    await shutdown(how === "closed" ? "window closed" : "signal");
    return 0;
  }
  process.stdout.write(`compute is running. Dashboard: ${app.url}\n`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await shutdown("signal");
  return 0;
}
