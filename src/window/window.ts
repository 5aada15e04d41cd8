// Main-thread side of the native window: checks a display exists, starts the worker, and resolves
// when the user closes the window.
import { pathToFileURL } from "node:url";
import { AppError } from "../errors.ts";
import { createLogger } from "../log.ts";

const log = createLogger("window");

export const WINDOW_TITLE = "Compute";
export const WINDOW_SIZE = { width: 1100, height: 760 };

export function displayAvailable(env: NodeJS.ProcessEnv = process.env, platform = process.platform): boolean {
  if (platform === "linux" || platform === "freebsd") return Boolean(env.DISPLAY || env.WAYLAND_DISPLAY);
  return true;
}

export function assertDisplay(): void {
  if (!displayAvailable()) {
    throw new AppError("unavailable", "No display is available for the window; run `compute --headless` to serve the dashboard on localhost instead.");
  }
}

/** Opens the dashboard window; the promise settles when the window is closed. */
export function openWindow(url: string): { closed: Promise<void>; close(): void } {
  assertDisplay();
  // In the compiled binary the worker is a second entry point (build.ts lists it) that lives beside
  // the main entry under the same relative path as in src/; from source it sits beside this file.
  const workerUrl = process.env.COMPUTE_COMPILED ? new URL("./window/worker.ts", pathToFileURL(Bun.main)).href : new URL("./worker.ts", import.meta.url).href;
  const worker = new Worker(workerUrl);
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  worker.onmessage = (e: MessageEvent<{ type: string }>) => {
    if (e.data?.type === "opened") log.info("window opened");
    if (e.data?.type === "closed") {
      log.info("window closed");
      resolveClosed();
    }
  };
  worker.onerror = (e) => {
    log.error("window failed", { message: e.message });
    resolveClosed();
  };
  worker.postMessage({ url, title: WINDOW_TITLE, ...WINDOW_SIZE });
  return {
    closed,
    close: () => {
      worker.terminate();
      resolveClosed();
    },
  };
}
