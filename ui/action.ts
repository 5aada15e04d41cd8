// One command started from a form or a button: busy while it runs (its button disabled), the
// server's reason kept for the form to show or sent to a toast when it fails, and what follows a
// success (closing the dialog). Every panel and dialog uses this instead of its own try/finally.
import { useState } from "preact/hooks";
import { errorText } from "./api.ts";
import { notify } from "./toast.ts";

export interface ActionOptions {
  /** A failure goes to `error` for the form to show (the default), or to a toast. */
  errors?: "inline" | "toast";
  /** Runs after a success, e.g. the dialog's onClose. */
  onDone?: () => void;
  /** Stays busy after a success: the screen is about to change (unlock, create), so no second click. */
  keepBusy?: boolean;
}

export interface Action {
  busy: boolean;
  /** The key of the run in progress (run(call, key)): which row's button to disable. */
  pending: string | null;
  error: string | null;
  setError: (message: string | null) => void;
  /** Runs `call`; resolves true when it worked. Never rejects: the failure is shown as configured. */
  run: (call: () => Promise<unknown>, key?: string) => Promise<boolean>;
}

export function useAction(opts: ActionOptions = {}): Action {
  const [pending, setPending] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const run = async (call: () => Promise<unknown>, key = ""): Promise<boolean> => {
    setError(null);
    setPending(key);
    let ok = false;
    try {
      await call();
      ok = true;
      opts.onDone?.();
    } catch (err) {
      if (opts.errors === "toast") notify("bad", errorText(err));
      else setError(errorText(err));
    } finally {
      if (!ok || !opts.keepBusy) setPending(null);
    }
    return ok;
  };
  return { busy: pending !== null, pending, error, setError, run };
}
