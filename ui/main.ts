// Browser entry: start the live connection and render the app into #app.
import { html } from "htm/preact";
import { render } from "preact";
import { App } from "./components/app.ts";
import { startLive } from "./live.ts";
import { ui } from "./state.ts";
import { notify } from "./toast.ts";
import { formatMsats } from "./format.ts";
import { effect } from "@preact/signals";

startLive();

// A received payment is worth a notice wherever the user is looking.
let lastPaymentId: string | null = null;
effect(() => {
  const p = ui.value?.lastPayment;
  if (p && p.paymentId !== lastPaymentId) {
    lastPaymentId = p.paymentId;
    notify("ok", `+${formatMsats(p.amountMsats)} sats received${p.jobId ? ` for job ${p.jobId.slice(0, 8)}` : ""}.`);
  }
});

render(html`<${App} />`, document.getElementById("app")!);
