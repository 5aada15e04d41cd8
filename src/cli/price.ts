// `compute price suggest [--model M] [--apply]` and `compute price floor SATS`: a price from the
// market (same model, else the same size class), this machine's measured speed and the owner's
// floor. Nothing changes without --apply (the dashboard's "use suggested" is the same click).
import { updateConfigFile } from "../config.ts";
import { AppError } from "../errors.ts";
import { readLock } from "../util/lock.ts";
import { COMMON_HELP, applyLogLevel, dataDirFrom, intFlag, parse, printJson, runningApi } from "./common.ts";
import { MARKET_OPTIONS, loadMarketView } from "./market.ts";

const HELP = `Usage: compute price suggest [--model M] [--apply] [--since 7d] [--json]
       compute price floor SATS

suggest  a per-job (and per-1k-token) price for each served model, or for --model M, from the
         prices other providers ask for the same model (or the same size class), this machine's
         benchmark (compute benchmark) and your floor, with the reason in one sentence.
         --apply saves it (for --model M as that model's price, else as the default price).
floor    the least you will take per job, in sats: a suggestion never goes below it.
${COMMON_HELP}`;

async function saveSettings(dataDir: string, patch: { pricing: Record<string, unknown> }): Promise<void> {
  const running = readLock(dataDir);
  if (running?.url && running.token) {
    await runningApi({ url: running.url, token: running.token }).call("PUT", "/settings", patch, 10_000);
    return;
  }
  updateConfigFile(dataDir, patch);
}

export async function price(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { ...MARKET_OPTIONS, apply: { type: "boolean" } }, true);
  const [sub, arg] = positionals;
  if (values.help || !sub) {
    process.stdout.write(HELP + "\n");
    return values.help ? 0 : 2;
  }
  applyLogLevel(values);
  const dataDir = dataDirFrom(values);
  if (sub === "floor") {
    const floorSats = intFlag(arg, "floor", 0, 1_000_000);
    if (floorSats === undefined) throw new AppError("usage", "compute price floor SATS: give the least you will take per job, in sats.");
    await saveSettings(dataDir, { pricing: { floorMsats: floorSats * 1000 } });
    process.stdout.write(`floor set to ${floorSats} sats per job\n`);
    return 0;
  }
  if (sub !== "suggest") throw new AppError("usage", `Unknown price command '${sub}'; see --help.`);
  const view = await loadMarketView(values);
  const suggestions = view.suggestions;
  if (suggestions.length === 0) throw new AppError("not_found", "No served model to price: pass --model M.");
  if (values.apply) {
    const s = suggestions[0]!;
    const pricing: Record<string, unknown> = values.model
      ? { models: { [values.model as string]: { perJobMsats: s.perJobMsats, per1kTokensMsats: s.per1kTokensMsats } } }
      : { perJobMsats: s.perJobMsats, per1kTokensMsats: s.per1kTokensMsats };
    await saveSettings(dataDir, { pricing });
  }
  if (values.json) {
    printJson({ suggestions, applied: values.apply ? suggestions[0]!.model : null });
    return 0;
  }
  for (const s of suggestions) {
    process.stdout.write(`${s.model}: ${s.perJobMsats / 1000} sats/job${s.per1kTokensMsats ? `, ${s.per1kTokensMsats / 1000} sats per 1k tokens` : ""} (now ${s.currentPerJobMsats / 1000})\n  ${s.reason}\n`);
  }
  process.stdout.write(values.apply ? `applied the price for ${values.model ?? "all models (the default price)"}\n` : "not applied: run again with --apply to use it\n");
  return 0;
}
