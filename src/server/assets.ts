// The dashboard, bundled by ui/build.ts into ui/dist (generated: `bun install`, the test script
// and build.ts make it) and embedded into the compiled binary by these imports.
// @ts-ignore: generated file, imported as text
import html from "../../ui/dist/index.html" with { type: "text" };
// @ts-ignore: generated file, imported as text
import js from "../../ui/dist/app.js" with { type: "text" };
// @ts-ignore: generated file, imported as text
import css from "../../ui/dist/app.css" with { type: "text" };

export const assets = { html, js, css } as unknown as { html: string; js: string; css: string };
