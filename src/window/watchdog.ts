// Runs in a Worker of the window process. The main thread is inside the webview's run loop and runs
// no JavaScript until the window closes, so this thread watches the app: it reads the window
// process's stdin (the pipe from the app) to its end. The end comes when the app exits, crashes or
// is killed, or closes the window on purpose: the window process then ends at once. It holds no
// state of its own; the app holds everything.
import { readSync } from "node:fs";

const buf = Buffer.alloc(256);
const pause = new Int32Array(new SharedArrayBuffer(4));
for (;;) {
  try {
    if (readSync(0, buf) === 0) break; // end of the pipe
  } catch (err) {
    // A non-blocking descriptor has nothing yet: wait a little (this thread only waits anyway).
    if ((err as NodeJS.ErrnoException).code === "EAGAIN") {
      Atomics.wait(pause, 0, 0, 100);
      continue;
    }
    break; // the pipe is broken: the app is gone
  }
}
// process.exit() in a Worker ends only the Worker; a signal ends the process.
process.kill(process.pid, "SIGTERM");
Atomics.wait(pause, 0, 0, 2000);
process.kill(process.pid, "SIGKILL");
