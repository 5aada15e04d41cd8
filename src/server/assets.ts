// The dashboard, bundled by ui/build.ts into ui/dist (generated; `bun install` and build.ts make it)
// and embedded into the compiled binary by these imports.
import html from "../../ui/dist/index.html" with { type: "text" };
import js from "../../ui/dist/app.js" with { type: "text" };
import css from "../../ui/dist/app.css" with { type: "text" };

export const assets = { html, js, css } as { html: string; js: string; css: string };
