// `compute selftest`: a job addressed to this provider, sent through each of its relays alone,
// timed end to end. The quickest proof that the provider is reachable where customers look.
import { generateSecretKey } from "nostr-tools/pure";
import { readPublicIdentity } from "../paths.ts";
import { loadConfig } from "../config.ts";
import { AppError, errorMessage } from "../errors.ts";
import { ask } from "../nostr/customer.ts";
import { checkDiscoverable } from "../market/discover.ts";
import { COMMON_HELP, configFlagsFrom, dataDirFrom, intFlag, parse, printJson } from "./common.ts";

const HELP = `Usage: compute selftest [--timeout S] [--json]

Sends a short job addressed to this provider through each configured relay on its own (from a
throwaway customer key) and reports the round trip per relay. Also checks that each relay returns
our announcement for the query clients use (kind 31990, #k=5050) and holds a fresh heartbeat.
The provider must be running and online (compute --headless --online).

Options:
  --timeout S   per relay (default 60)
${COMMON_HELP}`;

export async function selftest(args: string[]): Promise<number> {
  const { values } = parse(args, { timeout: { type: "string" } });
  if (values.help) {
    process.stdout.write(HELP + "\n");
    return 0;
  }
  const dataDir = dataDirFrom(values);
  const me = readPublicIdentity(dataDir);
  if (!me) throw new AppError("not_found", "No identity here: run `compute init` first.");
  const config = loadConfig({ dataDir, flags: configFlagsFrom(values) });
  const timeoutMs = (intFlag(values.timeout, "timeout", 1, 3600) ?? 60) * 1000;
  const customer = generateSecretKey();
  const results = await Promise.all(
    config.relays.map(async (relay) => {
      const found = await checkDiscoverable(relay, me.pubkey, Math.min(timeoutMs, 10_000));
      const discoverable = { announcement: found.announcement, heartbeatAgeSecs: found.heartbeatAgeSecs, heartbeatFresh: found.heartbeatFresh };
      try {
        const r = await ask({ prompt: "selftest: reply with one word", maxTokens: 8, provider: me.pubkey, relays: [relay] }, customer, { timeoutMs, stopOnProviderError: true });
        const processing = r.feedback.find((f) => f.status === "processing" || f.status === "payment-required");
        const hidden = !found.announcement ? "no announcement for #k=5050 here" : !found.heartbeatFresh ? `heartbeat ${found.heartbeatAgeSecs === null ? "missing" : `${found.heartbeatAgeSecs} s old`}` : null;
        return { relay, ok: hidden === null, firstFeedbackMs: processing?.ms ?? null, resultMs: r.ms, discoverable, error: hidden };
      } catch (err) {
        return { relay, ok: false, firstFeedbackMs: null, resultMs: null, discoverable, error: errorMessage(err) };
      }
    }),
  );
  if (values.json) printJson({ npub: me.npub, results });
  else {
    process.stdout.write(`selftest of ${me.npub}\n`);
    for (const r of results) {
      const found = `announcement ${r.discoverable.announcement ? "found" : "MISSING"}, heartbeat ${r.discoverable.heartbeatAgeSecs === null ? "MISSING" : `${r.discoverable.heartbeatAgeSecs} s old`}`;
      process.stdout.write(r.ok ? `  ok    ${r.relay}  feedback ${r.firstFeedbackMs ?? "-"} ms, result ${r.resultMs} ms; ${found}\n` : `  FAIL  ${r.relay}  ${r.error}; ${found}\n`);
    }
  }
  return results.every((r) => r.ok) ? 0 : 1;
}
