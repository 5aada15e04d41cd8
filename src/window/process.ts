// The window process (`compute window`): the webview on this process's own main thread, showing the
// dashboard URL the app sent on stdin. Its run() blocks this thread until the window is closed; a
// Worker (watchdog.ts) meanwhile watches the pipe from the app and ends this process when it ends.
import { writeSync } from "node:fs";
import { pathToFileURL } from "node:url";
import type { WindowRequest } from "./window.ts";

/**
 * With COMPUTE_WINDOW_DEBUG=1 the page reports what it shows (its title and headings, whenever
 * they change) on the window process's stderr. A debugging aid, and how the tests see that the
 * window shows the dashboard itself and not the "Connecting…" splash.
 */
const REPORT_SCRIPT = `(() => {
  if (window.top !== window) return;
  let last = "";
  let busy = false;
  setInterval(() => {
    if (busy || !document.body || typeof window.__computeWindowReport !== "function") return;
    const headings = Array.from(document.querySelectorAll("h1, h2")).map((h) => (h.textContent || "").trim()).filter(Boolean);
    const report = JSON.stringify({ title: document.title, headings });
    if (report === last) return;
    last = report;
    // Said once the frame holding it has been drawn: the callback of the frame after it.
    busy = true;
    requestAnimationFrame(() => requestAnimationFrame(() => {
      busy = false;
      window.__computeWindowReport(JSON.parse(report));
    }));
  }, 250);
})();`;

function watchTheApp(): void {
  // In the compiled binary the watchdog is a second entry point (build.ts lists it) beside the main
  // entry under the same relative path as in src/; from source it sits beside this file.
  const url = process.env.COMPUTE_COMPILED ? new URL("./window/watchdog.ts", pathToFileURL(Bun.main)).href : new URL("./watchdog.ts", import.meta.url).href;
  new Worker(url);
}

/** Shows the window; returns 0 when the person closes it. */
export async function showWindow(req: WindowRequest, opts: { debug: boolean }): Promise<number> {
  // Ctrl+C in a terminal reaches the whole process group: the app decides, and closes this window
  // by ending the pipe. (This handler never runs while the webview loop holds the thread; having
  // one is what keeps SIGINT from ending the process.)
  process.on("SIGINT", () => {});
  watchTheApp();
  const { Webview } = await import("webview-bun");
  const view = new Webview(opts.debug, { width: req.width, height: req.height, hint: 0 /* SizeHint.NONE: the user may resize */ });
  view.title = req.title;
  if (opts.debug) {
    // Bound functions are called on this thread from inside run(); stderr is written synchronously
    // because the event loop does not turn until run() returns.
    view.bind("__computeWindowReport", (report: unknown) => {
      writeSync(2, `compute window: shows ${JSON.stringify(report)}\n`);
      return true; // the page awaits a JSON answer
    });
    view.init(REPORT_SCRIPT);
  }
  view.navigate(req.url);
  view.run(); // returns when the window is closed (and destroys the webview)
  return 0;
}
