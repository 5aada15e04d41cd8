// The root: picks the screen from the identity state, and shows the dashboard when unlocked.
import { html } from "htm/preact";
import { connection, identityState, loadError } from "../state.ts";
import { closeDialog, openDialog } from "./dialogs.ts";
import { EarningsPanel } from "./earnings.ts";
import { Header } from "./header.ts";
import { JobsPanel } from "./jobs.ts";
import { MarketPanel } from "./market.ts";
import { Spinner } from "./kit.ts";
import { ModelsPanel } from "./models.ts";
import { NetworkPanel } from "./network.ts";
import { Onboarding, Unlock } from "./onboarding.ts";
import { ProviderPanel } from "./provider.ts";
import { SettingsDialog } from "./settings.ts";
import { Toasts } from "./toasts.ts";
import { HistoryDialog, ReceiveDialog, SendDialog, WalletPanel, LightningAddressDialog } from "./wallet.ts";

function Splash(props: { title: string; testid: string; children?: unknown }) {
  return html`<main class="onboard" data-testid=${props.testid}>
    <div class="onboard-card splash">
      <div class="brand brand-lg"><span class="brand-bracket">[</span>COMPUTE<span class="brand-bracket">]</span></div>
      <p class="lead">${props.title}</p>
      ${props.children}
    </div>
  </main>`;
}

function Dashboard() {
  const d = openDialog.value;
  return html`<div class="app" data-testid="dashboard">
    <${Header} />
    ${connection.value === "reconnecting"
      ? html`<div class="banner banner-warn strip" role="status" data-testid="reconnecting">Connection to the app lost: reconnecting…</div>`
      : null}
    <main class="grid">
      <div class="col col-side">
        <${ProviderPanel} />
        <${WalletPanel} />
        <${EarningsPanel} />
      </div>
      <div class="col col-main">
        <${JobsPanel} />
        <div class="split">
          <${ModelsPanel} />
          <${NetworkPanel} />
        </div>
        <${MarketPanel} />
      </div>
    </main>
    ${d === "receive" ? html`<${ReceiveDialog} onClose=${closeDialog} />` : null}
    ${d === "send" ? html`<${SendDialog} onClose=${closeDialog} />` : null}
    ${d === "settings" ? html`<${SettingsDialog} onClose=${closeDialog} />` : null}
    ${d === "lnaddress" ? html`<${LightningAddressDialog} onClose=${closeDialog} />` : null}
    ${d === "history" ? html`<${HistoryDialog} onClose=${closeDialog} />` : null}
  </div>`;
}



export function App() {
  // Only the identity state: reading the whole `ui` here would draw every panel again on each event.
  const st = identityState.value;
  let screen;
  if (connection.value === "unauthorized") {
    screen = html`<${Splash} title="This dashboard session has ended." testid="signed-out">
      <p class="note">Open the dashboard again from the compute app (it prints a fresh link when it starts).</p>
    <//>`;
  } else if (!st) {
    screen = loadError.value
      ? html`<${Splash} title="Can't load the dashboard." testid="load-error"><p class="field-error">${loadError.value}</p><p class="note">Retrying…</p><//>`
      : html`<${Splash} title="Connecting…" testid="loading"><${Spinner} /><//>`;
  } else if (st === "none") {
    screen = html`<${Onboarding} />`;
  } else if (st === "locked") {
    screen = html`<${Unlock} />`;
  } else {
    screen = html`<${Dashboard} />`;
  }
  return html`${screen}<${Toasts} />`;
}
