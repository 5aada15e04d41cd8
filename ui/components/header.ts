import { html } from "htm/preact";
import { useAction } from "../action.ts";
import { lock } from "../api.ts";
import { shortNpub } from "../format.ts";
import { connection, identity, version } from "../state.ts";
import { CopyButton, Light } from "./kit.ts";
import { openDialog } from "./dialogs.ts";

const CONNECTION_TEXT = {
  connecting: ["warn", "CONNECTING"],
  live: ["ok", "LIVE"],
  reconnecting: ["warn", "RECONNECTING"],
  unauthorized: ["bad", "SIGNED OUT"],
} as const;

export function Header() {
  const npub = identity.value.npub;
  const [tone, text] = CONNECTION_TEXT[connection.value];
  const locking = useAction({ errors: "toast" });
  return html`<header class="topbar">
    <div class="brand" aria-label="compute">
      <span class="brand-bracket">[</span>COMPUTE<span class="brand-bracket">]</span>
    </div>
    <div class="link-state" data-testid="connection" data-state=${connection.value} title="Live connection to the app">
      <${Light} tone=${tone} pulse=${connection.value !== "live"} />
      <span>${text}</span>
    </div>
    ${npub
      ? html`<div class="identity">
          <span class="identity-label">ID</span>
          <code class="npub" title=${npub} data-testid="npub">${shortNpub(npub)}</code>
          <${CopyButton} text=${npub} label="Copy your npub" testid="copy-npub" compact />
        </div>`
      : null}
    <div class="topbar-actions">
      <span class="version" title="Version">v${version.value}</span>
      <button type="button" class="btn btn-ghost btn-sm" data-testid="open-settings" onClick=${() => (openDialog.value = "settings")}>SETTINGS</button>
      <button type="button" class="btn btn-ghost btn-sm" data-testid="lock" disabled=${locking.busy} onClick=${() => locking.run(lock)} title="Lock: the wallet and identity need the password again">
        LOCK
      </button>
    </div>
  </header>`;
}
