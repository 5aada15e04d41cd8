// MODELS: Ollama's installed models with a serve switch each, a BENCHMARK per served model with its
// last figures (components/bench.ts, as in MARKET), and pulling a new one.
import { html } from "htm/preact";
import { useEffect, useState } from "preact/hooks";
import { useAction } from "../action.ts";
import { pullModel, setServedModels } from "../api.ts";
import { formatBytes, percent } from "../format.ts";
import { toggleServed } from "../forms.ts";
import { models, ollama, pulls, servedCount } from "../state.ts";
import { useMarketFeed } from "../market-feed.ts";
import { BenchButton, BenchFigures, useBenchmark } from "./bench.ts";
import { Empty, Light, Meter, Panel, Switch, TextInput } from "./kit.ts";
import { Backends } from "./backends.ts";

/** A finished pull stays on screen this long so the user sees it complete. */
const PULL_DONE_SHOWN_MS = 6_000;

function PullForm() {
  const [name, setName] = useState("");
  const { busy, error, setError, run } = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    const model = name.trim();
    if (!model) return setError("Type a model name, e.g. llama3.2");
    if (!/^[\w.\-/:]+$/.test(model)) return setError("Model names use letters, digits and . - _ / : only.");
    void run(async () => {
      await pullModel(model);
      setName("");
    });
  };
  return html`<form class="inline-form" onSubmit=${submit} aria-label="Pull a model">
    <label class="sr-only" for="pull-model">Model to pull</label>
    <${TextInput}
      id="pull-model"
      class="input mono"
      placeholder="pull a model, e.g. llama3.2"
      autocomplete="off"
      spellcheck=${false}
      value=${name}
      data-testid="pull-input"
      aria-invalid=${error ? "true" : undefined}
      onValue=${setName}
    />
    <button type="submit" class="btn" disabled=${busy} data-testid="pull-button">PULL</button>
    ${error ? html`<p class="field-error full" role="alert" data-testid="pull-error">${error}</p>` : null}
  </form>`;
}

function Pulls() {
  const all = Object.values(pulls.value);
  const [, setTick] = useState(0);
  const now = Date.now();
  const doneKey = all.filter((p) => p.done).map((p) => p.at).join();
  // Re-render once after a finished pull's grace period so it leaves the list.
  useEffect(() => {
    if (!doneKey) return;
    const t = setTimeout(() => setTick((n) => n + 1), PULL_DONE_SHOWN_MS + 100);
    return () => clearTimeout(t);
  }, [doneKey]);
  const shown = all.filter((p) => !p.done || p.error || now - p.at < PULL_DONE_SHOWN_MS);
  if (!shown.length) return null;
  return html`<ul class="pulls">
    ${shown.map((p) => {
      const pct = percent(p.completed, p.total);
      return html`<li key=${p.model} class="pull" data-testid="pull-progress" data-model=${p.model} data-done=${p.done ? "true" : "false"}>
        <div class="pull-line">
          <span class="mono ellipsis">${p.model}</span>
          <span class="mono faint">
            ${p.error ? html`<span class="text-bad">failed</span>` : p.done ? "done" : pct === null ? p.status : `${pct.toFixed(0)}%`}
          </span>
        </div>
        <${Meter} value=${p.done ? 100 : pct} label=${`Pulling ${p.model}`} tone=${p.error ? "bad" : p.done ? "ok" : "busy"} />
        ${p.error ? html`<p class="field-error">${p.error}</p>` : !p.done && pct !== null ? html`<p class="pull-status faint">${p.status}</p>` : null}
      </li>`;
    })}
  </ul>`;
}

export function ModelsPanel() {
  const o = ollama.value;
  const list = models.value;
  const { busy, run } = useAction({ errors: "toast" });
  const served = servedCount.value;
  const bench = useBenchmark();
  useMarketFeed();

  const toggle = (name: string) => run(() => setServedModels(toggleServed(list, name)));

  let body;
  if (!o.reachable) {
    body = html`<${Empty} title="Ollama is not reachable" testid="ollama-down">
      Ollama is not running at <code>${o.url}</code>: install it from <b>ollama.com</b>, then run <code>ollama pull llama3.2</code>.
      ${o.error ? html`<p class="faint small">(${o.error})</p>` : null}
    <//>`;
  } else if (!list.length) {
    body = html`<${Empty} title="No models installed" testid="models-empty">Pull one below: <code>llama3.2</code> (2 GB) is a good start.<//>`;
  } else {
    body = html`<ul class="models" aria-label="Models">
      ${list.map(
        (m) => html`<li key=${m.name} class=${`model${m.served ? " served" : ""}`} data-testid="model-row" data-model=${m.name} data-served=${m.served ? "true" : "false"}>
          <div class="model-main">
            <span class="model-name mono ellipsis" title=${m.name}>${m.name}</span>
            <span class="model-meta">${[m.family, m.parameterSize, m.quantization].filter(Boolean).join(" · ") || "—"}${m.backends?.length ? html` · <span data-testid="model-backends">on ${m.backends.join(", ")}</span>` : null}</span>
          </div>
          <span class="model-size mono">${formatBytes(m.sizeBytes)}</span>
          ${m.served ? html`<${BenchButton} model=${m.name} bench=${bench} testid="model-benchmark" />` : html`<span></span>`}
          <${Switch} checked=${m.served} disabled=${busy} label=${`Serve ${m.name}`} testid="model-serve-toggle" onChange=${() => toggle(m.name)} />
          <${BenchFigures} model=${m.name} bench=${bench} testid="model-bench" class="model-bench" />
        </li>`,
      )}
    </ul>`;
  }

  return html`<${Panel}
    title="MODELS"
    testid="models-panel"
    actions=${html`<span class="status-tag" data-testid="ollama-state" data-reachable=${o.reachable ? "true" : "false"} title=${o.url}>
      <${Light} tone=${o.reachable ? "ok" : "bad"} />${o.reachable ? `OLLAMA ${o.version ?? ""}` : "OLLAMA DOWN"}
    </span>`}
  >
    ${o.reachable && list.length ? html`<p class="panel-note">${served} of ${list.length} served</p>` : null}
    ${body}
    <${Pulls} />
    ${o.reachable ? html`<${PullForm} />` : null}
    <${Backends} />
  <//>`;
}
