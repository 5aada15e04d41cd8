// NETWORK: the relays customers reach this provider through, with a light and latency each.
import { html } from "htm/preact";
import { useState } from "preact/hooks";
import { useAction } from "../action.ts";
import { addRelay, removeRelay } from "../api.ts";
import { formatLatency, relayTone, type Tone } from "../format.ts";
import { relays as relayList, relaysUp, type RelayView } from "../state.ts";
import { Empty, Light, Panel, TextInput } from "./kit.ts";

function AddRelay() {
  const [url, setUrl] = useState("");
  const { busy, error, setError, run } = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    let u = url.trim();
    if (!u) return setError("Type a relay address, e.g. wss://nos.lol");
    // People often paste a bare host name: relays are reached over TLS websockets by default.
    if (!/^wss?:\/\//i.test(u)) u = `wss://${u}`;
    if (!/^wss?:\/\/[^\s/]+/i.test(u)) return setError("A relay address looks like wss://relay.example.com");
    void run(async () => {
      await addRelay(u);
      setUrl("");
    });
  };
  return html`<form class="inline-form" onSubmit=${submit} aria-label="Add a relay">
    <label class="sr-only" for="relay-url">Relay address</label>
    <${TextInput}
      id="relay-url"
      class="input mono"
      placeholder="wss://relay.example.com"
      autocomplete="off"
      spellcheck=${false}
      value=${url}
      data-testid="relay-input"
      aria-invalid=${error ? "true" : undefined}
      onValue=${setUrl}
    />
    <button type="submit" class="btn" disabled=${busy} data-testid="relay-add">ADD</button>
    ${error ? html`<p class="field-error full" role="alert" data-testid="relay-error">${error}</p>` : null}
  </form>`;
}

const STATE_TEXT: Record<string, string> = { connected: "connected", connecting: "connecting", failed: "failed", disconnected: "off" };

/**
 * The pool reports a live connection that dropped as "disconnected" WITH the reason and retries by
 * itself; "disconnected" without a reason is a relay it stopped. Only the latter is "off": a drop
 * shown as "off" reads as if the user had switched the relay off.
 */
function relayLook(r: RelayView): { text: string; tone: Tone; pulse: boolean; error: string | null } {
  if (r.state === "disconnected" && r.error) return { text: "reconnecting", tone: "warn", pulse: true, error: r.error };
  // The socket is open but the relay has not answered yet (a silent relay stays here until its
  // probe fails): say so instead of a bare "connecting".
  if (r.state === "connecting" && r.error) return { text: "waiting", tone: "warn", pulse: true, error: r.error };
  return { text: STATE_TEXT[r.state] ?? r.state, tone: relayTone(r.state), pulse: r.state === "connecting", error: r.state === "failed" ? r.error : null };
}

export function NetworkPanel() {
  const relays = relayList.value;
  const connected = relaysUp.value;
  const removing = useAction({ errors: "toast" });
  return html`<${Panel}
    title="NETWORK"
    testid="network-panel"
    actions=${html`<span class="count mono" data-testid="relays-connected">${connected}/${relays.length} up</span>`}
  >
    ${relays.length === 0
      ? html`<${Empty} title="No relays" testid="relays-empty">Customers find you through relays: add one below, e.g. <code>wss://nos.lol</code>.<//>`
      : connected === 0
        ? html`<p class="banner banner-warn" data-testid="relays-none-connected">No relay connected: check your internet connection, or add another relay.</p>`
        : null}
    ${relays.length
      ? html`<ul class="relays" aria-label="Relays">
          ${relays.map((r) => {
            const look = relayLook(r);
            return html`<li key=${r.url} class="relay" data-testid="relay-row" data-url=${r.url} data-state=${r.state}>
              <${Light} tone=${look.tone} pulse=${look.pulse} label=${look.text} />
              <span class="relay-url mono ellipsis" title=${r.error ? `${r.url}: ${r.error}` : r.url}>${r.url.replace(/^wss:\/\//, "")}</span>
              <span class="relay-lat mono" data-testid="relay-latency">${r.state === "connected" ? formatLatency(r.latencyMs) : look.text}</span>
              <button
                type="button"
                class="btn btn-ghost btn-icon btn-sm"
                aria-label=${`Remove ${r.url}`}
                title="Remove"
                disabled=${removing.pending === r.url}
                data-testid="relay-remove"
                onClick=${() => removing.run(() => removeRelay(r.url), r.url)}
              >
                ✕
              </button>
              ${look.error ? html`<p class="relay-error">${look.error}</p>` : null}
            </li>`;
          })}
        </ul>`
      : null}
    <${AddRelay} />
  <//>`;
}
