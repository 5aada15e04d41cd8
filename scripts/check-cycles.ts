// `bun run check:cycles`: walks the imports between the files of src/ and fails on an import
// cycle (test/structure/cycles.test.ts runs the same check); it also prints the files over
// MAX_LINES lines, as a report only (splits are still under way, issue 12).
//
// Every relative import counts: value imports, `import type`/`export type` and type-only
// specifiers, re-exports, dynamic import() and import("…") in type positions. A cycle made of
// types alone still ties two files together for a reader, and a dynamic import is a dependency
// taken later.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

export const MAX_LINES = 600;

/**
 * Cycles that exist and are being worked on, each as the set of files in it (paths relative to
 * the root, "/" separators), with the issue that removes it. A cycle found among these files only
 * passes; a cycle that touches any other file fails. Empty: the last one, jobs/engine.ts <->
 * wallet/payments.ts, was broken for issue 12 (the engine's ports moved to jobs/ports.ts).
 */
export const KNOWN_CYCLES: { files: string[]; issue: string }[] = [];

export type EdgeKind = "value" | "type" | "dynamic";
export interface Edge {
  to: string;
  kind: EdgeKind;
}
export type Graph = Map<string, Edge[]>;

const SOURCE = /\.(ts|tsx)$/;

export function sourceFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (SOURCE.test(name) && !name.endsWith(".d.ts")) out.push(p);
    }
  };
  walk(root);
  return out;
}

const transpilers = { ts: new Bun.Transpiler({ loader: "ts" }), tsx: new Bun.Transpiler({ loader: "tsx" }) };

/** Type-only imports written as value imports, so the transpiler's scan (which drops types) sees them. */
function typesAsValues(code: string): string {
  return code
    .replace(/\bimport\s+type\s+(?=[{*\w$])/g, "import ")
    .replace(/\bexport\s+type\s+(?=[{*])/g, "export ")
    .replace(/([{,]\s*)type\s+(?=[\w$]+\s*(?:[,}]|as\b))/g, "$1");
}

/** Relative specifiers a file imports, by kind; `from` is parsed with Bun's own transpiler. */
export function importsOf(file: string, code: string): { path: string; kind: EdgeKind }[] {
  const t = transpilers[file.endsWith(".tsx") ? "tsx" : "ts"];
  const src = code.replace(/^#!.*/, "");
  const found = new Map<string, EdgeKind>();
  const add = (path: string, kind: EdgeKind) => {
    if (!path.startsWith(".")) return;
    const prev = found.get(path);
    // value beats dynamic beats type: the strongest tie is the one reported.
    if (!prev || kind === "value" || (kind === "dynamic" && prev === "type")) found.set(path, kind);
  };
  for (const i of t.scanImports(src)) add(i.path, i.kind === "dynamic-import" ? "dynamic" : "value");
  for (const i of t.scanImports(typesAsValues(src))) add(i.path, i.kind === "dynamic-import" ? "dynamic" : "type");
  // import("./x.ts").Y in a type position is not an import to the transpiler.
  for (const m of src.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)) add(m[1]!, "type");
  return [...found].map(([path, kind]) => ({ path, kind }));
}

export function importGraph(root: string): Graph {
  const files = sourceFiles(root);
  const known = new Set(files);
  const graph: Graph = new Map();
  for (const f of files) {
    const edges: Edge[] = [];
    for (const { path, kind } of importsOf(f, readFileSync(f, "utf8"))) {
      const to = resolve(dirname(f), path);
      if (known.has(to)) edges.push({ to, kind });
    }
    graph.set(f, edges);
  }
  return graph;
}

/** Strongly connected components with more than one file, or a file importing itself (Tarjan). */
export function cycles(graph: Graph): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const { to } of graph.get(v) ?? []) {
      if (!index.has(to)) {
        visit(to);
        low.set(v, Math.min(low.get(v)!, low.get(to)!));
      } else if (onStack.has(to)) low.set(v, Math.min(low.get(v)!, index.get(to)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const scc: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      scc.push(w);
    } while (w !== v);
    if (scc.length > 1 || (graph.get(v) ?? []).some((e) => e.to === v)) out.push(scc.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

/** One concrete loop through the component, for the message: a -> b -> … -> a, with edge kinds. */
export function loopThrough(graph: Graph, scc: string[], rel: (f: string) => string): string {
  const inside = new Set(scc);
  const start = scc[0]!;
  const prev = new Map<string, { from: string; kind: EdgeKind }>();
  const queue = [start];
  while (queue.length) {
    const v = queue.shift()!;
    for (const e of graph.get(v) ?? []) {
      if (!inside.has(e.to)) continue;
      if (e.to === start) {
        const path = [`${rel(v)} -(${e.kind})-> ${rel(start)}`];
        for (let at = v; at !== start; ) {
          const p = prev.get(at)!;
          path.unshift(`${rel(p.from)} -(${p.kind})-> `);
          at = p.from;
        }
        return path.join("");
      }
      if (!prev.has(e.to) && e.to !== start) {
        prev.set(e.to, { from: v, kind: e.kind });
        queue.push(e.to);
      }
    }
  }
  return scc.map(rel).join(", ");
}

export interface CycleReport {
  /** Each cycle not covered by KNOWN_CYCLES: its files and one loop through them. */
  unknown: { files: string[]; loop: string }[];
  known: { files: string[]; issue: string }[];
  /** Allowlisted cycles no longer found (the entry can go). */
  gone: { files: string[]; issue: string }[];
}

export function checkCycles(root: string, allow = KNOWN_CYCLES): CycleReport {
  const graph = importGraph(root);
  const rel = (f: string) => relative(root, f).split("\\").join("/");
  const report: CycleReport = { unknown: [], known: [], gone: [] };
  const used = new Set<number>();
  for (const scc of cycles(graph)) {
    const files = scc.map(rel);
    const i = allow.findIndex((k) => files.every((f) => k.files.includes(f)));
    if (i >= 0) {
      used.add(i);
      report.known.push({ files, issue: allow[i]!.issue });
    } else report.unknown.push({ files, loop: loopThrough(graph, scc, rel) });
  }
  allow.forEach((k, i) => used.has(i) || report.gone.push(k));
  return report;
}

/** Files over `max` lines, longest first. */
export function longFiles(root: string, max = MAX_LINES): { file: string; lines: number }[] {
  const out: { file: string; lines: number }[] = [];
  for (const f of sourceFiles(root)) {
    const text = readFileSync(f, "utf8");
    const lines = text.length === 0 ? 0 : text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
    if (lines > max) out.push({ file: relative(root, f).split("\\").join("/"), lines });
  }
  return out.sort((a, b) => b.lines - a.lines);
}

if (import.meta.main) {
  const root = resolve(import.meta.dir, "../src");
  const report = checkCycles(root);
  for (const c of report.known) console.log(`known cycle (${c.issue}): ${c.files.join(", ")}`);
  for (const c of report.gone) console.log(`no longer a cycle, remove it from KNOWN_CYCLES: ${c.files.join(", ")}`);
  for (const c of report.unknown) console.log(`IMPORT CYCLE: ${c.loop}`);
  const long = longFiles(root);
  console.log(long.length ? `files in src/ over ${MAX_LINES} lines (report only):` : `no file in src/ is over ${MAX_LINES} lines`);
  for (const f of long) console.log(`  ${String(f.lines).padStart(5)}  ${f.file}`);
  if (report.unknown.length) {
    console.log(`${report.unknown.length} import cycle(s) in src/`);
    process.exit(1);
  }
  console.log(`no import cycle in src/ (${sourceFiles(root).length} files)`);
}
