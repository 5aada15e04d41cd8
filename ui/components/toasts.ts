import { html } from "htm/preact";
import { dismiss, toasts } from "../toast.ts";

export function Toasts() {
  return html`<div class="toasts" role="status" aria-live="polite">
    ${toasts.value.map(
      (t) => html`<div key=${t.id} class=${`toast toast-${t.tone}`} data-testid="toast" data-tone=${t.tone}>
        <span>${t.text}</span>
        <button type="button" class="btn btn-ghost btn-icon btn-sm" aria-label="Dismiss" onClick=${() => dismiss(t.id)}>✕</button>
      </div>`,
    )}
  </div>`;
}
