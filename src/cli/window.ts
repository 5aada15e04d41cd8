// `compute window`: internal, hidden from the main help. The running app starts it to show the
// dashboard in a native window on this process's own main thread. It reads one JSON line from
// stdin ({url, title, width, height}); the URL carries the dashboard's token, which is why it never
// comes in argv or the environment. Exit 0: the person closed the window.
import { readSync } from "node:fs";
import { AppError, issueText } from "../errors.ts";

const HELP = `Usage: compute window

Internal: compute starts this itself to show its dashboard window, and sends it the dashboard's
address on standard input. To open a window, run \`compute\` (a second one opens a window on the
running one).`;

/** Reads one line from a file descriptor without reading past it much; null at end of input. */
export function readLineSync(fd: number, max = 16 * 1024): string | null {
  const buf = Buffer.alloc(1024);
  const pause = new Int32Array(new SharedArrayBuffer(4));
  let text = "";
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, buf);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EAGAIN") {
        Atomics.wait(pause, 0, 0, 20);
        continue;
      }
      throw err;
    }
    if (n === 0) return text.length ? text : null;
    text += buf.subarray(0, n).toString("utf8");
    const nl = text.indexOf("\n");
    if (nl >= 0) return text.slice(0, nl);
    if (text.length > max) throw new AppError("invalid_input", "compute window: the request on stdin is too long.");
  }
}

export async function window(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    process.stdout.write(HELP + "\n");
    return 0;
  }
  if (args.length) throw new AppError("usage", "compute window takes no arguments; see --help.");
  if (process.stdin.isTTY) throw new AppError("usage", "compute window is started by compute itself; run `compute` to open the dashboard window.");
  const { WindowRequest, assertDisplay } = await import("../window/window.ts");
  const line = readLineSync(0);
  if (line === null) throw new AppError("invalid_input", "compute window: no request on stdin (it is started by compute itself).");
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    throw new AppError("invalid_input", "compute window: the request on stdin is not JSON.");
  }
  const req = WindowRequest.safeParse(json);
  if (!req.success) throw new AppError("invalid_input", `compute window: bad request on stdin (${issueText(req.error, { root: "request" })}).`);
  assertDisplay();
  const { showWindow } = await import("../window/process.ts");
  return showWindow(req.data, { debug: process.env.COMPUTE_WINDOW_DEBUG === "1" });
}
