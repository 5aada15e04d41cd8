// First run (identity.state = none): make or import the one recovery phrase that backs up both the
// Nostr identity (NIP-06) and the wallet, prove the backup, then set the password that encrypts it.
// Also the unlock screen (identity.state = locked).
import { html } from "htm/preact";
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { useAction } from "../action.ts";
import { createIdentity, errorText, generateMnemonic, suggestWords, unlock, validateMnemonic } from "../api.ts";
import { checkAnswers, completeWord, passwordProblem, pickCheckPositions, splitWords, wordAtCaret, MIN_PASSWORD } from "../forms.ts";
import { refresh } from "../live.ts";
import { BusyButton, Field, Spinner, TextInput } from "./kit.ts";

type Step = "start" | "show" | "verify" | "import" | "password";

function Shell(props: { step?: number; children: ComponentChildren; testid: string }) {
  const steps = ["PHRASE", "BACKUP", "PASSWORD"];
  return html`<main class="onboard" data-testid=${props.testid}>
    <div class="onboard-card">
      <div class="brand brand-lg"><span class="brand-bracket">[</span>COMPUTE<span class="brand-bracket">]</span></div>
      ${props.step !== undefined
        ? html`<ol class="steps" aria-label="Progress">
            ${steps.map(
              (s, i) => html`<li class=${i < props.step! ? "done" : i === props.step ? "current" : ""} aria-current=${i === props.step ? "step" : undefined}>
                <span class="mono">0${i + 1}</span> ${s}
              </li>`,
            )}
          </ol>`
        : null}
      ${props.children}
    </div>
  </main>`;
}

function Words(props: { words: string[] }) {
  return html`<ol class="words" data-testid="mnemonic-words">
    ${props.words.map((w, i) => html`<li key=${i}><span class="word-n">${i + 1}</span><span class="word" data-testid="mnemonic-word">${w}</span></li>`)}
  </ol>`;
}

export function Onboarding() {
  const [step, setStep] = useState<Step>("start");
  const [mnemonic, setMnemonic] = useState("");
  const [passphrase, setPassphrase] = useState("");
  const [origin, setOrigin] = useState<"create" | "import">("create");

  if (step === "start") {
    return html`<${Shell} testid="onboarding">
      <h1 class="onboard-title">Sell your spare GPU time for bitcoin.</h1>
      <p class="lead">
        Compute answers text-generation requests from Nostr with your local Ollama models and gets paid over Lightning. One recovery phrase backs up
        both your Nostr identity and your wallet.
      </p>
      <div class="choice">
        <button type="button" class="choice-btn" data-testid="onboard-create" onClick=${() => (setOrigin("create"), setMnemonic(""), setPassphrase(""), setStep("show"))}>
          <span class="choice-title">CREATE NEW</span>
          <span class="choice-text">Make a new identity and wallet. You will write down 12 or 24 words.</span>
        </button>
        <button type="button" class="choice-btn" data-testid="onboard-import" onClick=${() => (setOrigin("import"), setMnemonic(""), setPassphrase(""), setStep("import"))}>
          <span class="choice-title">IMPORT PHRASE</span>
          <span class="choice-text">Restore from a recovery phrase you already have (BIP-39).</span>
        </button>
      </div>
    <//>`;
  }
  if (step === "show") {
    return html`<${ShowPhrase}
      initial=${mnemonic || null}
      onBack=${() => setStep("start")}
      onDone=${(m: string) => {
        setMnemonic(m);
        setStep("verify");
      }}
    />`;
  }
  if (step === "verify") {
    return html`<${VerifyPhrase} mnemonic=${mnemonic} onBack=${() => setStep("show")} onDone=${() => setStep("password")} />`;
  }
  if (step === "import") {
    return html`<${ImportPhrase}
      initial=${mnemonic}
      initialPassphrase=${passphrase}
      onBack=${() => setStep("start")}
      onDone=${(m: string, pp: string) => {
        setMnemonic(m);
        setPassphrase(pp);
        setStep("password");
      }}
    />`;
  }
  return html`<${SetPassword} mnemonic=${mnemonic} passphrase=${passphrase} onBack=${() => setStep(origin === "create" ? "verify" : "import")} />`;
}

function ShowPhrase(props: { initial: string | null; onBack: () => void; onDone: (mnemonic: string) => void }) {
  // Coming back from the check step shows the same words: the user may already have written them.
  const [count, setCount] = useState<12 | 24>(props.initial && splitWords(props.initial).length === 24 ? 24 : 12);
  const [mnemonic, setMnemonic] = useState<string | null>(props.initial);
  const [error, setError] = useState<string | null>(null);
  const [written, setWritten] = useState(false);
  const gen = async (n: 12 | 24) => {
    setError(null);
    setMnemonic(null);
    setWritten(false);
    try {
      setMnemonic((await generateMnemonic(n)).mnemonic);
    } catch (err) {
      setError(errorText(err));
    }
  };
  useEffect(() => {
    if (mnemonic && splitWords(mnemonic).length === count) return;
    void gen(count);
  }, [count]);
  return html`<${Shell} step=${0} testid="onboarding">
    <h1 class="onboard-title">Your recovery phrase</h1>
    <p class="lead">Write these words on paper, in order, and keep it safe. They are the only way to restore your identity and your sats.</p>
    <div class="seg" role="radiogroup" aria-label="Number of words">
      ${([12, 24] as const).map(
        (n) => html`<button type="button" role="radio" aria-checked=${count === n} class=${`seg-btn${count === n ? " active" : ""}`} data-testid=${`words-${n}`} onClick=${() => setCount(n)}>
          ${n} WORDS
        </button>`,
      )}
    </div>
    ${error ? html`<p class="field-error" role="alert">${error}</p>` : null}
    ${mnemonic ? html`<${Words} words=${splitWords(mnemonic)} />` : !error ? html`<p class="note"><${Spinner} /> Generating…</p>` : null}
    <label class="check-line">
      <input type="checkbox" checked=${written} disabled=${!mnemonic} data-testid="mnemonic-written" onChange=${(e: Event) => setWritten((e.target as HTMLInputElement).checked)} />
      I have written these words down.
    </label>
    <div class="btn-row between">
      <button type="button" class="btn btn-ghost" onClick=${props.onBack}>BACK</button>
      <button type="button" class="btn btn-primary" disabled=${!mnemonic || !written} data-testid="mnemonic-continue" onClick=${() => mnemonic && props.onDone(mnemonic)}>
        CONTINUE
      </button>
    </div>
  <//>`;
}

function VerifyPhrase(props: { mnemonic: string; onBack: () => void; onDone: () => void }) {
  const words = splitWords(props.mnemonic);
  const [positions] = useState(() => pickCheckPositions(words.length, 3));
  const [answers, setAnswers] = useState<string[]>(positions.map(() => ""));
  const [checked, setChecked] = useState(false);
  const results = checkAnswers(words, positions, answers);
  const submit = (e: Event) => {
    e.preventDefault();
    setChecked(true);
    if (results.every(Boolean)) props.onDone();
  };
  return html`<${Shell} step=${1} testid="onboarding">
    <h1 class="onboard-title">Check your backup</h1>
    <p class="lead">Type the words at these positions from your paper copy.</p>
    <form onSubmit=${submit} class="stack" data-testid="verify-form">
      <div class="verify-grid">
        ${positions.map(
          (pos, i) => html`<${Field} label=${`Word #${pos + 1}`} id=${`verify-${i}`} error=${checked && !results[i] ? "That is not the word at this position." : null}>
            <${TextInput}
              id=${`verify-${i}`}
              class="input mono"
              autocomplete="off"
              autocapitalize="off"
              spellcheck=${false}
              value=${answers[i]}
              data-testid=${`verify-word-${i}`}
              data-position=${pos + 1}
              aria-invalid=${checked && !results[i] ? "true" : undefined}
              onValue=${(v: string) => setAnswers((a) => a.map((x, j) => (j === i ? v : x)))}
            />
          <//>`,
        )}
      </div>
      <div class="btn-row between">
        <button type="button" class="btn btn-ghost" data-testid="verify-back" onClick=${props.onBack}>SHOW WORDS AGAIN</button>
        <button type="submit" class="btn btn-primary" data-testid="verify-continue">CONTINUE</button>
      </div>
    </form>
  <//>`;
}

function ImportPhrase(props: { initial: string; initialPassphrase: string; onBack: () => void; onDone: (mnemonic: string, passphrase: string) => void }) {
  const [text, setText] = useState(props.initial);
  const [passphrase, setPassphrase] = useState(props.initialPassphrase);
  const [suggestions, setSuggestions] = useState<string[]>([]);
  const checking = useAction();
  // With the error: a word the check did not know, and the words it may have meant.
  const [fix, setFix] = useState<{ word?: string; suggestions?: string[] }>({});
  const setError = (e: { error: string; word?: string; suggestions?: string[] } | null) => {
    checking.setError(e ? e.error : null);
    setFix(e ? { word: e.word, suggestions: e.suggestions } : {});
  };
  const error = checking.error === null ? null : { error: checking.error, ...fix };
  const busy = checking.busy;
  const ref = useRef<HTMLTextAreaElement>(null);
  const query = useRef(0);
  const words = splitWords(text);

  const lookup = (value: string, caret: number) => {
    const { prefix } = wordAtCaret(value, caret);
    const q = ++query.current;
    if (!prefix || !/^[a-z]+$/.test(prefix)) {
      setSuggestions([]);
      return;
    }
    // Debounced, and only the latest answer counts.
    setTimeout(() => {
      if (q !== query.current) return;
      suggestWords(prefix)
        .then((r) => {
          if (q === query.current) setSuggestions(r.words.filter((w) => w !== prefix || r.words.length > 1).slice(0, 6));
        })
        .catch(() => q === query.current && setSuggestions([]));
    }, 120);
  };

  const pick = (word: string) => {
    const ta = ref.current;
    const caret = ta ? ta.selectionStart : text.length;
    const next = completeWord(text, caret, word);
    setText(next.text);
    setSuggestions([]);
    query.current++;
    requestAnimationFrame(() => {
      if (!ta) return;
      ta.focus();
      ta.setSelectionRange(next.caret, next.caret);
    });
  };

  const replaceWrong = (wrong: string, right: string) => {
    setText((t) => t.split(/(\s+)/).map((part) => (part.toLowerCase() === wrong ? right : part)).join(""));
    setError(null);
  };

  const submit = (e: Event) => {
    e.preventDefault();
    const mnemonic = words.join(" ");
    if (words.length !== 12 && words.length !== 24) {
      setError({ error: `A recovery phrase has 12 or 24 words; this has ${words.length}.` });
      return;
    }
    setFix({});
    void checking.run(async () => {
      const r = await validateMnemonic(mnemonic);
      if (r.ok) props.onDone(mnemonic, passphrase);
      else setError({ error: r.error, word: r.word, suggestions: r.suggestions });
    });
  };

  return html`<${Shell} step=${0} testid="onboarding">
    <h1 class="onboard-title">Import your recovery phrase</h1>
    <p class="lead">Type or paste your 12 or 24 words, separated by spaces.</p>
    <form onSubmit=${submit} class="stack">
      <div class=${`field${error ? " has-error" : ""}`}>
        <label for="import-mnemonic">Recovery phrase <span class="faint mono">${words.length} / ${words.length > 12 ? 24 : 12} words</span></label>
        <textarea
          id="import-mnemonic"
          ref=${ref}
          class="input mono"
          rows="4"
          autocomplete="off"
          autocapitalize="off"
          spellcheck=${false}
          value=${text}
          data-testid="import-mnemonic"
          aria-invalid=${error ? "true" : undefined}
          aria-describedby="import-suggestions"
          onInput=${(e: Event) => {
            const ta = e.target as HTMLTextAreaElement;
            setText(ta.value);
            setError(null);
            lookup(ta.value, ta.selectionStart);
          }}
          onKeyDown=${(e: KeyboardEvent) => {
            // Tab completes the word being typed when there is exactly one way to do so.
            if (e.key === "Tab" && !e.shiftKey && suggestions.length === 1) {
              e.preventDefault();
              pick(suggestions[0]!);
            }
          }}
        ></textarea>
        <div class="suggestions" id="import-suggestions" aria-live="polite">
          ${suggestions.map((w) => html`<button type="button" class="chip" data-testid="suggestion" onClick=${() => pick(w)}>${w}</button>`)}
          ${suggestions.length === 1 ? html`<span class="faint small">Tab to complete</span>` : null}
        </div>
        ${error
          ? html`<div class="field-error" role="alert" data-testid="import-error">
              <p>${error.error}</p>
              ${error.word && error.suggestions?.length
                ? html`<p>
                    Did you mean:
                    ${error.suggestions.map((s) => html` <button type="button" class="chip" onClick=${() => replaceWrong(error.word!, s)}>${s}</button>`)}
                  </p>`
                : null}
            </div>`
          : null}
      </div>
      <details class="advanced">
        <summary>Advanced: BIP-39 passphrase</summary>
        <${Field} label="Passphrase (optional)" id="import-passphrase" hint="Only if you set one when the phrase was made: a wrong one opens a different, empty wallet.">
          <${TextInput}
            id="import-passphrase"
            type="password"
            class="input"
            autocomplete="off"
            value=${passphrase}
            data-testid="import-passphrase"
            onValue=${setPassphrase}
          />
        <//>
      </details>
      <div class="btn-row between">
        <button type="button" class="btn btn-ghost" onClick=${props.onBack}>BACK</button>
        <${BusyButton} type="submit" class="btn btn-primary" data-testid="import-continue" busy=${busy} disabled=${words.length === 0}>CONTINUE<//>
      </div>
    </form>
  <//>`;
}

function SetPassword(props: { mnemonic: string; passphrase: string; onBack: () => void }) {
  const [pw, setPw] = useState("");
  const [pw2, setPw2] = useState("");
  const [tried, setTried] = useState(false);
  // Stays busy once created: the dashboard replaces this screen.
  const { busy, error, run } = useAction({ keepBusy: true });
  const problem = passwordProblem(pw, pw2);
  const submit = (e: Event) => {
    e.preventDefault();
    setTried(true);
    if (problem) return;
    void run(async () => {
      await createIdentity(props.mnemonic, pw, props.passphrase || undefined);
      await refresh();
    });
  };
  return html`<${Shell} step=${2} testid="onboarding">
    <h1 class="onboard-title">Set a password</h1>
    <p class="lead">It encrypts your phrase on this computer and unlocks the app. It can't be recovered, but your phrase can always restore everything.</p>
    <form onSubmit=${submit} class="stack">
      <input type="text" name="username" autocomplete="username" value="compute" class="sr-only" tabindex="-1" aria-hidden="true" readonly />
      <${Field} label="Password" id="pw" hint=${`At least ${MIN_PASSWORD} characters.`}>
        <${TextInput} id="pw" type="password" class="input" autocomplete="new-password" value=${pw} data-testid="password" onValue=${setPw} />
      <//>
      <${Field} label="Repeat password" id="pw2" error=${tried ? problem : null} errorTestid="password-error">
        <${TextInput} id="pw2" type="password" class="input" autocomplete="new-password" value=${pw2} data-testid="password-confirm" onValue=${setPw2} />
      <//>
      ${error ? html`<p class="field-error" role="alert" data-testid="create-error">${error}</p>` : null}
      <div class="btn-row between">
        <button type="button" class="btn btn-ghost" disabled=${busy} onClick=${props.onBack}>BACK</button>
        <button type="submit" class="btn btn-primary" disabled=${busy} data-testid="create-identity">${busy ? html`<${Spinner} /> CREATING…` : "CREATE IDENTITY"}</button>
      </div>
    </form>
  <//>`;
}

export function Unlock() {
  const [pw, setPw] = useState("");
  // Stays busy once unlocked: the dashboard replaces this screen.
  const { busy, error, run } = useAction({ keepBusy: true });
  const ref = useRef<HTMLInputElement>(null);
  useEffect(() => ref.current?.focus(), []);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!pw) return;
    const ok = await run(async () => {
      await unlock(pw);
      await refresh();
    });
    if (!ok) {
      setPw("");
      ref.current?.focus();
    }
  };
  return html`<${Shell} testid="unlock">
    <h1 class="onboard-title">Locked</h1>
    <p class="lead">Enter your password to unlock your identity and wallet.</p>
    <form onSubmit=${submit} class="stack">
      <input type="text" name="username" autocomplete="username" value="compute" class="sr-only" tabindex="-1" aria-hidden="true" readonly />
      <${Field} label="Password" id="unlock-pw" error=${error} errorTestid="unlock-error">
        <input
          id="unlock-pw"
          ref=${ref}
          type="password"
          class="input"
          autocomplete="current-password"
          value=${pw}
          data-testid="unlock-password"
          aria-invalid=${error ? "true" : undefined}
          onInput=${(e: Event) => setPw((e.target as HTMLInputElement).value)}
        />
      <//>
      <div class="btn-row end">
        <button type="submit" class="btn btn-primary" disabled=${busy || !pw} data-testid="unlock-submit">${busy ? html`<${Spinner} /> UNLOCKING…` : "UNLOCK"}</button>
      </div>
    </form>
  <//>`;
}
