// `compute benchmark [--model M] [--json]`: the standard prompt set through the real backend (the
// same generate() jobs use): time to first token, output tokens/s alone and at the backend's
// concurrency, and the capacity in jobs per hour at the default max tokens. Kept per model and
// machine in market.sqlite. Through the running compute when there is one (it refuses while jobs
// run); otherwise against the configured backends directly.
import { loadConfig } from "../config.ts";
import { sameModel } from "../inference/model-name.ts";
import { AppError } from "../errors.ts";
import { Router } from "../inference/router.ts";
import { runBenchmark } from "../market/benchmark.ts";
import { MarketStore, marketPath, type BenchmarkRecord } from "../market/store.ts";
import { readLock } from "../util/lock.ts";
import { COMMON_HELP, applyLogLevel, configFlagsFrom, dataDirFrom, parse, printJson, runningApi } from "./common.ts";
import { runningState } from "./status.ts";

const HELP = `Usage: compute benchmark [--model M] [--json]

Runs a short standard prompt set on each served model (or on --model M) and records time to first
token, output tokens/s (one stream and at the backend's concurrency) and the capacity in jobs per
hour at the default max tokens (limits.maxTokensCap). Refused while jobs run.
${COMMON_HELP}`;

export async function benchmark(args: string[]): Promise<number> {
  const { values } = parse(args, { model: { type: "string" } });
  if (values.help) {
    process.stdout.write(HELP + "\n");
    return 0;
  }
  applyLogLevel(values);
  const dataDir = dataDirFrom(values);
  const results: BenchmarkRecord[] = [];
  const running = readLock(dataDir);
  if (running?.url && running.token) {
    const api = runningApi({ url: running.url, token: running.token });
    const state = await runningState(api);
    const served = state.models.filter((m) => m.served).map((m) => m.name);
    const models = values.model ? [values.model] : served;
    if (models.length === 0) throw new AppError("unavailable", "No model is served: nothing to benchmark.");
    for (const model of models) results.push(await api.call<BenchmarkRecord>("POST", "/models/benchmark", { model }, 15 * 60_000));
  } else {
    const config = loadConfig({ dataDir, flags: configFlagsFrom(values) });
    const inference = Router.fromConfig(config);
    const store = MarketStore.open(marketPath(dataDir));
    try {
      await inference.refresh();
      const served = inference.servedModels();
      const models = values.model ? [served.find((m) => sameModel(m, values.model!)) ?? values.model] : served;
      if (models.length === 0) throw new AppError("unavailable", "No model is served (is the backend running?): nothing to benchmark.");
      for (const model of models) {
        if (!served.includes(model)) throw new AppError("not_found", `${model} is not a served model (served: ${served.join(", ") || "none"}).`);
        const rec = await runBenchmark({
          generate: (p) => inference.generate(p),
          model,
          concurrency: Math.max(1, Math.min(inference.capacity(), config.limits.maxConcurrentJobs)),
          defaultMaxTokens: config.limits.maxTokensCap,
        });
        store.putBenchmark(rec);
        results.push(rec);
      }
    } finally {
      inference.stop();
      store.close();
    }
  }
  if (values.json) {
    printJson({ results });
    return 0;
  }
  for (const r of results) {
    process.stdout.write(
      `${r.model}: first token ${r.ttftMs} ms, ${r.tokensPerSec} tokens/s${r.concurrency > 1 ? `, ${r.tokensPerSecConcurrent} tokens/s at ${r.concurrency} at once` : ""}, about ${r.jobsPerHour} jobs/hour at ${r.maxTokens} max tokens\n`,
    );
  }
  return 0;
}
