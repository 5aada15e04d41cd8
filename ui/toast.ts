// Short notices (command failed, payment received) shown in one aria-live region.
import { signal } from "@preact/signals";

export interface Toast {
  id: number;
  tone: "ok" | "bad" | "info";
  text: string;
}

export const toasts = signal<Toast[]>([]);
let nextId = 1;

export function notify(tone: Toast["tone"], text: string, ms = tone === "bad" ? 9_000 : 5_000): void {
  const id = nextId++;
  toasts.value = [...toasts.value.slice(-3), { id, tone, text }];
  setTimeout(() => dismiss(id), ms);
}

export function dismiss(id: number): void {
  toasts.value = toasts.value.filter((t) => t.id !== id);
}
