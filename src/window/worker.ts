// The webview lives in this Worker: its run() blocks the thread it runs on, and the services and
// the HTTP server must keep running on the main thread. The window is only an HTTP client.
import { Webview } from "webview-bun";

declare const self: Worker;

export interface OpenWindowMessage {
  url: string;
  title: string;
  width: number;
  height: number;
}

self.onmessage = (event: MessageEvent<OpenWindowMessage>) => {
  const { url, title, width, height } = event.data;
  const view = new Webview(false, { width, height, hint: 0 /* SizeHint.NONE: the user may resize */ });
  view.title = title;
  view.navigate(url);
  self.postMessage({ type: "opened" });
  view.run(); // returns when the user closes the window
  self.postMessage({ type: "closed" });
};
