// Small building blocks of the HUD: bracketed panels, status lights, meters, switches, dialogs,
// copy buttons and labelled fields. Styles live in styles.css; nothing here sets inline style
// except through the CSSOM (Preact's style objects), which the page's CSP allows.
import { html } from "htm/preact";
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import type { Tone } from "../format.ts";
import { notify } from "../toast.ts";

export function Panel(props: {
  title: string;
  testid?: string;
  actions?: ComponentChildren;
  class?: string;
  children?: ComponentChildren;
}) {
  const id = `panel-${props.title.toLowerCase().replace(/\W+/g, "-")}`;
  return html`<section class=${`panel ${props.class ?? ""}`} aria-labelledby=${id} data-testid=${props.testid}>
    <header class="panel-head">
      <h2 id=${id}>${props.title}</h2>
      ${props.actions ? html`<div class="panel-actions">${props.actions}</div>` : null}
    </header>
    <div class="panel-body">${props.children}</div>
  </section>`;
}

export function Light(props: { tone: Tone; pulse?: boolean; label?: string }) {
  return html`<span
    class=${`light light-${props.tone}${props.pulse ? " pulse" : ""}`}
    role=${props.label ? "img" : undefined}
    aria-label=${props.label}
    aria-hidden=${props.label ? undefined : "true"}
  ></span>`;
}

/** A horizontal meter; value null shows an indeterminate sweep. */
export function Meter(props: { value: number | null; label: string; testid?: string; tone?: Tone }) {
  const v = props.value === null ? null : Math.max(0, Math.min(100, props.value));
  return html`<div
    class=${`meter${v === null ? " indeterminate" : ""} meter-${props.tone ?? "busy"}`}
    role="progressbar"
    aria-label=${props.label}
    aria-valuemin="0"
    aria-valuemax="100"
    aria-valuenow=${v === null ? undefined : Math.round(v)}
    data-testid=${props.testid}
  >
    <div class="meter-fill" style=${{ width: v === null ? "30%" : `${v}%` }}></div>
  </div>`;
}

export function Switch(props: {
  checked: boolean;
  label: string;
  onChange: (next: boolean) => void;
  disabled?: boolean;
  testid?: string;
}) {
  return html`<button
    type="button"
    role="switch"
    class=${`switch${props.checked ? " on" : ""}`}
    aria-checked=${props.checked ? "true" : "false"}
    aria-label=${props.label}
    title=${props.label}
    disabled=${props.disabled}
    data-testid=${props.testid}
    onClick=${() => props.onChange(!props.checked)}
  >
    <span class="switch-knob"></span>
  </button>`;
}

/** Copies text; falls back to a hidden textarea where the Clipboard API is unavailable (webviews). */
export async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // fall through to the old way
  }
  const ta = document.createElement("textarea");
  ta.value = text;
  ta.setAttribute("readonly", "");
  ta.className = "offscreen";
  document.body.appendChild(ta);
  ta.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch {
    ok = false;
  }
  ta.remove();
  return ok;
}

export function CopyButton(props: { text: string; label: string; testid?: string; compact?: boolean }) {
  const [done, setDone] = useState(false);
  useEffect(() => {
    if (!done) return;
    const t = setTimeout(() => setDone(false), 1_500);
    return () => clearTimeout(t);
  }, [done]);
  const onClick = async () => {
    if (await copyText(props.text)) setDone(true);
    else notify("bad", "Could not copy: select the text and copy it by hand.");
  };
  return html`<button
    type="button"
    class=${`btn btn-ghost btn-sm${props.compact ? " btn-icon" : ""}`}
    aria-label=${props.label}
    title=${props.label}
    data-testid=${props.testid}
    onClick=${onClick}
  >
    ${done ? "COPIED" : props.compact ? html`<${CopyIcon} />` : "COPY"}
  </button>`;
}

function CopyIcon() {
  return html`<svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true" class="icon">
    <rect x="5" y="5" width="9" height="9" rx="1" fill="none" stroke="currentColor" stroke-width="1.4" />
    <path d="M3 11V3a1 1 0 0 1 1-1h7" fill="none" stroke="currentColor" stroke-width="1.4" />
  </svg>`;
}

export function Field(props: {
  label: string;
  id: string;
  hint?: ComponentChildren;
  error?: string | null;
  errorTestid?: string;
  children: ComponentChildren;
  class?: string;
}) {
  return html`<div class=${`field${props.error ? " has-error" : ""} ${props.class ?? ""}`}>
    <label for=${props.id}>${props.label}</label>
    ${props.children}
    ${props.error ? html`<p class="field-error" id=${`${props.id}-error`} role="alert" data-testid=${props.errorTestid}>${props.error}</p>` : props.hint ? html`<p class="field-hint">${props.hint}</p>` : null}
  </div>`;
}

/**
 * A text field: an <input>, or a <textarea> with `multiline`, that hands each edit's text to
 * `onValue`. Every other attribute (id, class, value, data-testid, aria-*, …) goes on the element.
 */
export function TextInput(props: { onValue: (text: string) => void; multiline?: boolean } & Record<string, unknown>) {
  const { onValue, multiline, ...attrs } = props;
  const onInput = (e: Event) => onValue((e.target as HTMLInputElement | HTMLTextAreaElement).value);
  return multiline ? html`<textarea ...${attrs} onInput=${onInput}></textarea>` : html`<input ...${attrs} onInput=${onInput} />`;
}

/** A button with a spinner before its label, disabled, while `busy` (and whenever `disabled`). */
export function BusyButton(props: { busy: boolean; disabled?: boolean; children: ComponentChildren } & Record<string, unknown>) {
  const { busy, disabled, children, ...attrs } = props;
  return html`<button ...${attrs} disabled=${busy || disabled}>${busy ? html`<${Spinner} />` : null} ${children}</button>`;
}

/**
 * A modal on the native <dialog>: it traps focus, closes on Escape and restores focus to what
 * opened it, which a hand-made overlay would have to re-implement. `tall`: as high as the screen
 * allows from the first frame, for content that loads late and is mostly taller than the screen
 * (SETTINGS, HISTORY), so the header and what is already shown don't jump when it arrives.
 */
export function Dialog(props: { title: string; onClose: () => void; testid?: string; wide?: boolean; tall?: boolean; children: ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null);
  const downOnBackdrop = useRef(false);
  // The backdrop is the <dialog> itself outside its box (a point inside the box is on its content).
  const onBackdrop = (e: MouseEvent): boolean => {
    const d = ref.current;
    if (!d || e.target !== d) return false;
    const r = d.getBoundingClientRect();
    return e.clientX < r.left || e.clientX > r.right || e.clientY < r.top || e.clientY > r.bottom;
  };
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    return () => d?.close();
  }, []);
  return html`<dialog
    ref=${ref}
    class=${`dialog${props.wide ? " dialog-wide" : ""}${props.tall ? " dialog-tall" : ""}`}
    aria-labelledby="dialog-title"
    data-testid=${props.testid}
    onCancel=${(e: Event) => {
      e.preventDefault();
      props.onClose();
    }}
    onPointerDown=${(e: PointerEvent) => {
      downOnBackdrop.current = onBackdrop(e);
    }}
    onClick=${(e: MouseEvent) => {
      // A press and release both on the backdrop close it. A press inside that is let go over the
      // backdrop (selecting text, a drag) also gives a click on the <dialog>: it stays, with what was typed.
      const close = downOnBackdrop.current && onBackdrop(e);
      downOnBackdrop.current = false;
      if (close) props.onClose();
    }}
  >
    <div class="dialog-frame">
      <header class="dialog-head">
        <h2 id="dialog-title">${props.title}</h2>
        <button type="button" class="btn btn-ghost btn-icon" aria-label="Close" data-testid="dialog-close" onClick=${props.onClose}>✕</button>
      </header>
      <div class="dialog-body">${props.children}</div>
    </div>
  </dialog>`;
}

/** An empty state that says what to do next. */
export function Empty(props: { title: string; testid?: string; children?: ComponentChildren }) {
  return html`<div class="empty" data-testid=${props.testid}>
    <p class="empty-title">${props.title}</p>
    ${props.children ? html`<div class="empty-text">${props.children}</div>` : null}
  </div>`;
}

export function Spinner() {
  return html`<span class="spinner" aria-hidden="true"></span>`;
}
