// Browser entry: start the live connection and render the app into #app.
import { effect } from "@preact/signals";
import { html } from "htm/preact";
import { render } from "preact";
import { App } from "./components/app.ts";
import { openDialog } from "./components/dialogs.ts";
import { formatMsats } from "./format.ts";
import { startLive } from "./live.ts";
import { identityState, lastPayment, provider } from "./state.ts";
import { notify } from "./toast.ts";

startLive();

// A received payment is worth a notice wherever the user is looking.
let lastPaymentId: string | null = null;
effect(() => {
  const p = lastPayment.value;
  if (p && p.paymentId !== lastPaymentId) {
    lastPaymentId = p.paymentId;
    notify("ok", `+${formatMsats(p.amountMsats)} sats received${p.jobId ? ` for job ${p.jobId.slice(0, 8)}` : ""}.`);
  }
});

effect(() => {
  const id = identityState.value;
  // Locking closes whatever was open: it must not reappear after the next unlock.
  if (id !== null && id !== "unlocked" && openDialog.peek()) openDialog.value = null;
  // The window or tab title tells the state at a glance, even when the window is in the background.
  document.title = id !== "unlocked" ? "compute" : provider.value.online ? "● online · compute" : "offline · compute";
});

render(html`<${App} />`, document.getElementById("app")!);
