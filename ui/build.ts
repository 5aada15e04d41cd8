// Bundles the dashboard for the browser: one minified ES module, one stylesheet, one HTML page that
// references both by path (/app.js, /app.css). No inline script or style anywhere, because the server
// sends a CSP of `script-src 'self'; style-src 'self'`. Run as a script, it writes ui/dist/.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const UI_DIR = import.meta.dir;

export interface UiBundle {
  html: string;
  js: string;
  css: string;
}

export async function buildUi(): Promise<UiBundle> {
  const result = await Bun.build({
    entrypoints: [join(UI_DIR, "main.ts")],
    target: "browser",
    format: "esm",
    minify: true,
    sourcemap: "none",
    // The dashboard reads no env; make sure nothing from the build machine leaks into it.
    env: "disable",
    define: { "process.env.NODE_ENV": JSON.stringify("production") },
  });
  if (!result.success) {
    const detail = result.logs.map((l) => String(l)).join("\n");
    throw new Error(`UI bundle failed:\n${detail}`);
  }
  const entry = result.outputs.find((o) => o.kind === "entry-point");
  if (!entry) throw new Error("UI bundle produced no entry point");
  if (result.outputs.some((o) => o.kind === "chunk")) throw new Error("UI bundle split into chunks; the server serves only /app.js");
  const styles = await Bun.build({ entrypoints: [join(UI_DIR, "styles.css")], minify: true });
  const cssOut = styles.outputs.find((o) => o.path.endsWith(".css"));
  if (!styles.success || !cssOut) throw new Error(`UI stylesheet failed:\n${styles.logs.map((l) => String(l)).join("\n")}`);
  const [js, css, html] = await Promise.all([entry.text(), cssOut.text(), Bun.file(join(UI_DIR, "index.html")).text()]);
  return { html, js, css };
}

export const gzipSize = (text: string): number => gzipSync(Buffer.from(text)).length;

if (import.meta.main) {
  const started = performance.now();
  const out = await buildUi();
  const dist = join(UI_DIR, "dist");
  mkdirSync(dist, { recursive: true });
  await Promise.all([
    Bun.write(join(dist, "index.html"), out.html),
    Bun.write(join(dist, "app.js"), out.js),
    Bun.write(join(dist, "app.css"), out.css),
  ]);
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
  process.stdout.write(
    `ui/dist written in ${Math.round(performance.now() - started)} ms\n` +
      `  app.js  ${kb(out.js.length)} (${kb(gzipSize(out.js))} gzipped, budget 60 KB)\n` +
      `  app.css ${kb(out.css.length)} (${kb(gzipSize(out.css))} gzipped)\n`,
  );
  if (gzipSize(out.js) > 60 * 1024) {
    process.stderr.write("app.js is over its 60 KB gzipped budget\n");
    process.exit(1);
  }
}
