// Model names as Ollama reads them, for every room that compares or picks one (admission, pricing,
// the router, the announcement, the market, the busy probe). Pure, no imports.

/**
 * The key two spellings of one model share: names are case-insensitive and a name without a tag
 * means `:latest` (`llama3.2` is `llama3.2:latest`). The tag is what follows the last ":" after
 * the last "/", so a registry host with a port (`host:5000/m`) is not mistaken for a tag.
 */
export function modelKey(name: string): string {
  const n = name.trim().toLowerCase();
  return n.slice(n.lastIndexOf("/") + 1).includes(":") ? n : `${n}:latest`;
}

export function sameModel(a: string, b: string): boolean {
  return modelKey(a) === modelKey(b);
}

/**
 * The served model to run a job on, as `served` names it: the requested one (a job's params.model)
 * if served (any spelling), else null; with nothing requested, the default model if served, else
 * the first served one; nothing served → null.
 */
export function chooseModel(requested: { model?: string | null }, served: readonly string[], defaultModel?: string | null): string | null {
  const find = (name: string) => {
    const want = modelKey(name);
    return served.find((s) => modelKey(s) === want) ?? null;
  };
  if (requested.model) return find(requested.model);
  return (defaultModel ? find(defaultModel) : null) ?? served[0] ?? null;
}
