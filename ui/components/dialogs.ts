// Which modal is open. One at a time, named, so any panel can open one without prop drilling.
import { signal } from "@preact/signals";

export type DialogName = "receive" | "send" | "settings" | "lnaddress" | "history";
export const openDialog = signal<DialogName | null>(null);
export const closeDialog = () => {
  openDialog.value = null;
};
