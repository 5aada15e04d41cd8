// `compute ask "prompt"`: publish a kind 5050 job and print its feedback and result, timed.
import { decode } from "nostr-tools/nip19";
import { generateSecretKey } from "nostr-tools/pure";
import { paths } from "../paths.ts";
import { loadConfig } from "../config.ts";
import { AppError } from "../errors.ts";
import { UnifiedIdentity } from "../identity/identity.ts";
import { Vault } from "../identity/vault.ts";
import { ask } from "../nostr/customer.ts";
import { COMMON_HELP, configFlagsFrom, dataDirFrom, intFlag, parse, printJson, readPassword, readStdin } from "./common.ts";

const HELP = `Usage: compute ask "prompt" [options]

Sends a text-generation job (NIP-90 kind 5050) to the providers on your relays and prints each
feedback status as it arrives, then the answer. Reads the prompt from standard input when it is "-".

Options:
  --model NAME        ask for this model
  --provider NPUB     address one provider (npub or hex); others ignore the job
  --max-tokens N      the most tokens to generate
  --bid MSATS         the most you will pay, in millisats
  --encrypt           encrypt the job to the provider (NIP-44; needs --provider)
  --timeout S         give up after S seconds (default 120)
  --anon              use a throwaway key instead of your identity
${COMMON_HELP}`;

export function pubkeyFrom(input: string): string {
  if (/^[0-9a-f]{64}$/i.test(input)) return input.toLowerCase();
  try {
    const d = decode(input);
    if (d.type === "npub") return d.data;
    if (d.type === "nprofile") return d.data.pubkey;
  } catch {}
  throw new AppError("usage", `--provider must be an npub or a 64-hex public key, not '${input.slice(0, 20)}'.`);
}

export async function ask_(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    {
      model: { type: "string" },
      provider: { type: "string" },
      "max-tokens": { type: "string" },
      bid: { type: "string" },
      encrypt: { type: "boolean" },
      timeout: { type: "string" },
      anon: { type: "boolean" },
    },
    true,
  );
  if (values.help) {
    process.stdout.write(HELP + "\n");
    return 0;
  }
  if (positionals.length !== 1) throw new AppError("usage", 'Give the prompt as one argument in quotes, e.g. compute ask "Why is the sky blue?".');
  const prompt = positionals[0] === "-" ? (await readStdin()).trim() : positionals[0]!;
  if (!prompt) throw new AppError("usage", "The prompt is empty.");
  const dataDir = dataDirFrom(values);
  const config = loadConfig({ dataDir, flags: configFlagsFrom(values) });
  const timeoutSecs = intFlag(values.timeout, "timeout", 1, 86_400) ?? 120;
  const provider = values.provider ? pubkeyFrom(values.provider) : undefined;

  let secretKey: Uint8Array;
  const vault = paths(dataDir).vault;
  if (values.anon || !Vault.exists(vault)) {
    if (!values.anon) process.stderr.write("compute: no identity here; using a throwaway key (pass --anon to say so).\n");
    secretKey = generateSecretKey();
  } else {
    const password = (await readPassword(values, { prompt: "Vault password: ", required: true }))!;
    const seed = await Vault.open(vault, password);
    const identity = await UnifiedIdentity.fromMnemonic(seed.mnemonic, seed.passphrase);
    secretKey = identity.secretKey();
    identity.wipe();
  }

  const say = (line: string) => {
    if (!values.json) process.stderr.write(line + "\n");
  };
  say(`asking on ${config.relays.join(", ")}${provider ? ` (provider ${provider.slice(0, 12)}…)` : ""}`);
  const result = await ask(
    {
      prompt,
      model: values.model,
      maxTokens: intFlag(values["max-tokens"], "max-tokens", 1),
      provider,
      encrypt: values.encrypt ? "nip44" : undefined,
      relays: config.relays,
      bidMsats: intFlag(values.bid, "bid", 0),
    },
    secretKey,
    {
      timeoutMs: timeoutSecs * 1000,
      stopOnProviderError: Boolean(provider),
      onFeedback: (f) => {
        const amount = f.amountMsats !== null ? ` ${f.amountMsats} msats` : "";
        const extra = f.extra ? `: ${f.extra}` : "";
        say(`[${String(f.ms).padStart(6)} ms] ${f.provider.slice(0, 8)} ${f.status}${extra}${amount}${f.bolt11 ? `\n  invoice: ${f.bolt11}` : ""}`);
      },
    },
  );
  if (values.json) {
    printJson(result);
  } else {
    say(`[${String(result.ms).padStart(6)} ms] ${result.provider.slice(0, 8)} result via ${result.relay}`);
    process.stdout.write(result.content + "\n");
    if (result.bolt11) say(`payment due: ${result.amountMsats} msats\n  invoice: ${result.bolt11}`);
  }
  return 0;
}

export { ask_ as ask };
