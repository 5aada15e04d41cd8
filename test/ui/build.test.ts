import { expect, test } from "bun:test";
import { buildUi, gzipSize } from "../../ui/build.ts";

test("buildUi gives a CSP-clean page, a browser bundle within budget, and a stylesheet", async () => {
  const { html, js, css } = await buildUi();
  // The page only references /app.js and /app.css: no inline script, style element or attribute,
  // which `script-src 'self'; style-src 'self'` would block.
  expect(html).toContain('<script type="module" src="/app.js"></script>');
  expect(html).toContain('<link rel="stylesheet" href="/app.css" />');
  expect(html.match(/<script\b/g)!.length).toBe(1);
  expect(html).not.toMatch(/<style\b/i);
  expect(html).not.toMatch(/\sstyle=/i);
  expect(html).not.toMatch(/\son[a-z]+=/i);
  expect(html).toContain('<div id="app"></div>');
  // A browser bundle: no Node or Bun built-ins, no zod (types only cross from src/), no eval.
  expect(js).not.toMatch(/require\(["']node:|from ?["']node:|Bun\./);
  expect(js).not.toMatch(/\beval\(|new Function\(/);
  expect(js).not.toContain("ZodError");
  expect(js.length).toBeGreaterThan(10_000);
  expect(gzipSize(js)).toBeLessThan(60 * 1024);
  expect(css).toContain(".panel");
  expect(css).not.toMatch(/\/\*/); // minified
});
