// Main-thread side of the native window: checks a display exists, starts the worker, and resolves
// when the user closes the window.
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
  // A second entry point for `bun build --compile` (build.ts lists it), so the binary finds it.
  const worker = new Worker(new URL("./worker.ts", import.meta.url).href);
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
