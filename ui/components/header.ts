import { html } from "htm/preact";
import { useState } from "preact/hooks";
import { errorText, lock } from "../api.ts";
import { shortNpub } from "../format.ts";
import { connection, ui } from "../state.ts";
import { notify } from "../toast.ts";
import { CopyButton, Light } from "./kit.ts";
import { openDialog } from "./dialogs.ts";

const CONNECTION_TEXT = {
  connecting: ["warn", "CONNECTING"],
  live: ["ok", "LIVE"],
  reconnecting: ["warn", "RECONNECTING"],
  unauthorized: ["bad", "SIGNED OUT"],
} as const;

export function Header() {
  const s = ui.value!.snapshot;
  const [tone, text] = CONNECTION_TEXT[connection.value];
  const [locking, setLocking] = useState(false);
  const onLock = async () => {
    setLocking(true);
    try {
      await lock();
    } catch (err) {
      notify("bad", errorText(err));
    } finally {
      setLocking(false);
    }
  };
  return html`<header class="topbar">
    <div class="brand" aria-label="compute">
      <span class="brand-bracket">[</span>COMPUTE<span class="brand-bracket">]</span>
    </div>
    <div class="link-state" data-testid="connection" data-state=${connection.value} title="Live connection to the app">
      <${Light} tone=${tone} pulse=${connection.value !== "live"} />
      <span>${text}</span>
    </div>
    ${s.identity.npub
      ? html`<div class="identity">
          <span class="identity-label">ID</span>
          <code class="npub" title=${s.identity.npub} data-testid="npub">${shortNpub(s.identity.npub)}</code>
          <${CopyButton} text=${s.identity.npub} label="Copy your npub" testid="copy-npub" compact />
        </div>`
      : null}
    <div class="topbar-actions">
      <span class="version" title="Version">v${s.version}</span>
      <button type="button" class="btn btn-ghost btn-sm" data-testid="open-settings" onClick=${() => (openDialog.value = "settings")}>SETTINGS</button>
      <button type="button" class="btn btn-ghost btn-sm" data-testid="lock" disabled=${locking} onClick=${onLock} title="Lock: the wallet and identity need the password again">
        LOCK
      </button>
    </div>
  </header>`;
}
