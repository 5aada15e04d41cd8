// MODELS › BACKENDS: each inference backend (an Ollama, or an OpenAI-compatible server such as
// vLLM or llama.cpp) with a status light, its models and slots, a remove button, and a form to add
// one (URL, type, API key). The server checks a new backend answers as its type before saving it.
import { html } from "htm/preact";
import { useState } from "preact/hooks";
import { useAction } from "../action.ts";
import { addBackend, removeBackend, type BackendInput } from "../api.ts";
import { formatLatency } from "../format.ts";
import { backends as backendList, type Snapshot } from "../state.ts";
import { Light, TextInput } from "./kit.ts";

type BackendView = NonNullable<Snapshot["backends"]>[number];

function AddBackend() {
  const [url, setUrl] = useState("");
  const [type, setType] = useState<BackendInput["type"]>("ollama");
  const [key, setKey] = useState("");
  const { busy, error, setError, run } = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    let u = url.trim();
    if (!u) return setError("Type the backend's address, e.g. http://192.168.1.20:11434");
    if (!/^https?:\/\//i.test(u)) u = `http://${u}`;
    void run(async () => {
      await addBackend({ type, url: u, ...(key.trim() ? { apiKey: key.trim() } : {}) });
      setUrl("");
      setKey("");
    });
  };
  return html`<form class="inline-form" onSubmit=${submit} aria-label="Add a backend" data-testid="backend-form">
    <label class="sr-only" for="backend-url">Backend address</label>
    <${TextInput}
      id="backend-url"
      class="input mono"
      placeholder="add a backend: http://host:11434 or http://host:8000/v1"
      autocomplete="off"
      spellcheck=${false}
      value=${url}
      data-testid="backend-url"
      aria-invalid=${error ? "true" : undefined}
      onValue=${setUrl}
    />
    <label class="sr-only" for="backend-type">Backend type</label>
    <select id="backend-type" class="input" value=${type} data-testid="backend-type" onChange=${(e: Event) => setType((e.target as HTMLSelectElement).value as BackendInput["type"])}>
      <option value="ollama">Ollama</option>
      <option value="openai">OpenAI-compatible</option>
    </select>
    <label class="sr-only" for="backend-key">API key (optional)</label>
    <${TextInput}
      id="backend-key"
      class="input mono"
      type="password"
      placeholder="API key (optional)"
      autocomplete="off"
      value=${key}
      data-testid="backend-key"
      onValue=${setKey}
    />
    <button type="submit" class="btn" disabled=${busy} data-testid="backend-add">${busy ? "CHECKING…" : "ADD"}</button>
    ${error ? html`<p class="field-error full" role="alert" data-testid="backend-error">${error}</p>` : null}
  </form>`;
}

function lineOf(b: BackendView): string {
  if (!b.healthy) return b.reachable ? "set aside" : "down";
  return `${b.active}/${b.slots} · ${formatLatency(b.latencyMs)}`;
}

export function Backends() {
  const backends = backendList.value;
  const removing = useAction({ errors: "toast" });
  return html`<div class="backends-block">
    <p class="panel-note" style="margin-top: 14px">BACKENDS · ${backends.filter((b) => b.healthy).length}/${backends.length} up</p>
    <ul class="relays backends" aria-label="Backends">
      ${backends.map(
        (b) => html`<li key=${b.name} class="relay backend" data-testid="backend-row" data-name=${b.name} data-healthy=${b.healthy ? "true" : "false"} data-state=${b.healthy ? "connected" : "failed"}>
          <${Light} tone=${b.healthy ? "ok" : "bad"} label=${b.healthy ? "up" : "down"} />
          <span class="relay-url mono ellipsis" title=${`${b.url}${b.version ? ` (version ${b.version})` : ""}`}>
            ${b.name} <span class="faint">${b.type === "openai" ? "openai" : "ollama"} · ${b.models.length} ${b.models.length === 1 ? "model" : "models"}</span>
          </span>
          <span class="relay-lat mono" data-testid="backend-state">${lineOf(b)}</span>
          <button
            type="button"
            class="btn btn-ghost btn-icon btn-sm"
            aria-label=${`Remove backend ${b.name}`}
            title="Remove"
            disabled=${removing.pending === b.name || backends.length < 2}
            data-testid="backend-remove"
            onClick=${() => removing.run(() => removeBackend(b.name), b.name)}
          >
            ✕
          </button>
          ${!b.healthy && b.error ? html`<p class="relay-error" data-testid="backend-error-line">${b.error}</p>` : null}
        </li>`,
      )}
    </ul>
    <${AddBackend} />
  </div>`;
}
