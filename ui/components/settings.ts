// SETTINGS: pricing, limits and the public profile (PUT /api/settings), and revealing the recovery phrase.
import { html } from "htm/preact";
import { useEffect, useState } from "preact/hooks";
import { useAction } from "../action.ts";
import { errorText, getSettings, putSettings, revealMnemonic, type Settings } from "../api.ts";
import { PROFILE_MAX, formToPatch, settingsToForm, splitWords, type SettingsErrors, type SettingsForm } from "../forms.ts";
import { models } from "../state.ts";
import { notify } from "../toast.ts";
import { BusyButton, Dialog, Field, Spinner, TextInput } from "./kit.ts";
import { MarketPriceHint } from "./market.ts";
import { loadMarket } from "../market-feed.ts";
import { ScheduleSection } from "./schedule.ts";
import { scheduleFormToPatch, scheduleToForm, type ScheduleErrors, type ScheduleForm } from "../schedule.ts";

const MODES = [
  ["upfront", "Up front", "The customer pays the invoice before the job runs."],
  ["after", "After delivery", "The result is sent with an invoice; payment is on trust."],
  ["free", "Free", "No charge: useful for testing or goodwill."],
] as const;

type NumField = Exclude<keyof SettingsForm, "mode" | "onOffline" | "allowPrivateUrls" | "allow" | "deny" | "models" | "name" | "about" | "picture" | "publishProfile">;

const LIMIT_FIELDS: [NumField, string, string][] = [
  ["maxConcurrentJobs", "Jobs at once", "Sent to Ollama at once: 2 keeps the next job waiting there. Raise it to match OLLAMA_NUM_PARALLEL."],
  ["queueSize", "Queue length", "Waiting jobs beyond this are told to try later."],
  ["maxQueuedPerCustomer", "Waiting jobs per customer", "One customer's burst can't fill the queue; waiting jobs run in turns."],
  ["maxTokensCap", "Max tokens per job", "Upper bound on what one request may generate."],
  ["maxInputBytes", "Max prompt size (bytes)", ""],
  ["perCustomerPerMinute", "Requests per customer per minute", ""],
  ["jobTimeoutSecs", "Job timeout (s)", ""],
  ["partialIntervalMs", "Partial results every (ms)", "How often a customer is sent the text so far while a job runs (100 to 600,000)."],
];

function RevealSeed() {
  const [password, setPassword] = useState("");
  const [words, setWords] = useState<string[] | null>(null);
  const { busy, error, run } = useAction();
  const submit = async (e: Event) => {
    e.preventDefault();
    await run(async () => setWords(splitWords((await revealMnemonic(password)).mnemonic)));
    setPassword("");
  };
  if (words) {
    return html`<div class="reveal">
      <p class="banner banner-warn">Anyone with these words controls your identity and your sats. Never type them into a website.</p>
      <ol class="words" data-testid="reveal-words">
        ${words.map((w, i) => html`<li key=${i}><span class="word-n">${i + 1}</span><span class="word">${w}</span></li>`)}
      </ol>
      <div class="btn-row end"><button type="button" class="btn" data-testid="reveal-hide" onClick=${() => setWords(null)}>HIDE</button></div>
    </div>`;
  }
  return html`<form class="inline-form" onSubmit=${submit}>
    <label class="sr-only" for="reveal-password">Password</label>
    <${TextInput}
      id="reveal-password"
      type="password"
      class="input"
      placeholder="your password"
      autocomplete="current-password"
      value=${password}
      data-testid="reveal-password"
      onValue=${setPassword}
    />
    <button type="submit" class="btn" disabled=${busy || !password} data-testid="reveal-submit">REVEAL PHRASE</button>
    ${error ? html`<p class="field-error full" role="alert" data-testid="reveal-error">${error}</p>` : null}
  </form>`;
}

export function SettingsDialog(props: { onClose: () => void }) {
  const [loaded, setLoaded] = useState<Settings | null>(null);
  const [form, setForm] = useState<SettingsForm | null>(null);
  const [errors, setErrors] = useState<SettingsErrors>({});
  const [loadErr, setLoadErr] = useState<string | null>(null);
  const saving = useAction({ onDone: props.onClose });
  const [sched, setSched] = useState<ScheduleForm | null>(null);
  const [schedErrors, setSchedErrors] = useState<ScheduleErrors>({});

  useEffect(() => {
    // The form appears once everything it lays out is here (the settings, and fresh market figures
    // for the price hint), in one frame: nothing moves under the pointer after it shows.
    Promise.all([getSettings(), loadMarket()])
      .then(([s]) => {
        setLoaded(s);
        setForm(settingsToForm(s.pricing, s.limits, models.peek().map((m) => m.name), s.provider));
        if (s.schedule && s.pause) setSched(scheduleToForm(s.schedule, s.pause));
      })
      .catch((err) => setLoadErr(errorText(err)));
  }, []);

  const set = <K extends keyof SettingsForm>(key: K, value: SettingsForm[K]) => setForm((f) => (f ? { ...f, [key]: value } : f));
  const setModel = (name: string, field: "perJobSats" | "per1kTokensSats", value: string) =>
    setForm((f) => (f ? { ...f, models: f.models.map((m) => (m.name === name ? { ...m, [field]: value } : m)) } : f));
  const input = (key: NumField, opts: { sats?: boolean } = {}) =>
    html`<${TextInput}
      id=${`set-${key}`}
      class="input mono"
      inputmode=${opts.sats ? "decimal" : "numeric"}
      autocomplete="off"
      value=${form![key]}
      data-testid=${`settings-${key}`}
      aria-invalid=${errors[key] ? "true" : undefined}
      onValue=${(v: string) => set(key, v)}
    />`;

  const save = (e: Event) => {
    e.preventDefault();
    if (!form) return;
    const r = formToPatch(form);
    const sr = sched ? scheduleFormToPatch(sched) : null;
    setSchedErrors(sr && !sr.ok ? sr.errors : {});
    if (!r.ok || (sr && !sr.ok)) {
      setErrors(r.ok ? {} : r.errors);
      // The dialog scrolls: take the user to the first field that needs fixing, unless they have
      // moved on to another field before the next frame (their typing must not land in the wrong one).
      const formEl = e.currentTarget as HTMLFormElement;
      const focused = document.activeElement;
      requestAnimationFrame(() => {
        if (document.activeElement === focused) formEl.querySelector<HTMLInputElement>('[aria-invalid="true"]')?.focus();
      });
      return;
    }
    setErrors({});
    void saving.run(async () => {
      await putSettings(sr?.ok ? { ...r.patch, ...sr.patch } : r.patch);
      notify("ok", "Settings saved.");
      // The market's suggestions follow the prices and the floor.
      void loadMarket();
    });
  };

  return html`<${Dialog} title="SETTINGS" onClose=${props.onClose} testid="settings-dialog" wide tall>
    ${loadErr ? html`<p class="field-error" role="alert">${loadErr}</p>` : null}
    ${!form && !loadErr ? html`<p class="note"><${Spinner} /> Loading…</p>` : null}
    ${form
      ? html`<form onSubmit=${save} class="settings" novalidate>
          <fieldset class="group">
            <legend>PRICING</legend>
            <div class="modes" role="radiogroup" aria-label="Payment mode">
              ${MODES.map(
                ([value, label, hint]) => html`<label class=${`mode${form.mode === value ? " checked" : ""}`}>
                  <input type="radio" name="mode" value=${value} checked=${form.mode === value} data-testid=${`settings-mode-${value}`} onChange=${() => set("mode", value)} />
                  <span class="mode-label">${label}</span>
                  <span class="mode-hint">${hint}</span>
                </label>`,
              )}
            </div>
            <div class="grid-2">
              <${Field} label="Per job (sats)" id="set-perJobSats" error=${errors.perJobSats} hint="Charged for every job; decimals allowed (0.5).">
                ${input("perJobSats", { sats: true })}
              <//>
              <${Field} label="Per 1,000 tokens (sats)" id="set-per1kTokensSats" error=${errors.per1kTokensSats} hint="Added per 1,000 generated tokens.">
                ${input("per1kTokensSats", { sats: true })}
              <//>
              <${Field} label="Invoice expiry (s)" id="set-invoiceExpirySecs" error=${errors.invoiceExpirySecs}>${input("invoiceExpirySecs")}<//>
              <${Field} label="Free jobs per customer" id="set-freeJobsPerCustomer" error=${errors.freeJobsPerCustomer}>${input("freeJobsPerCustomer")}<//>
              <${Field} label="Price floor (sats per job)" id="set-floorSats" error=${errors.floorSats} hint="The least you take: a suggested price never goes below it. Empty: none.">
                ${input("floorSats", { sats: true })}
              <//>
            </div>
            <${MarketPriceHint} onUse=${(v: string) => set("perJobSats", v)} />
            ${form.models.length
              ? html`<div class="model-prices" data-testid="settings-model-prices">
                  <p class="field-hint">A model's own price (sats); empty fields use the prices above.</p>
                  <table class="price-table">
                    <thead><tr><th>Model</th><th>Per job</th><th>Per 1,000 tokens</th></tr></thead>
                    <tbody>
                      ${form.models.map(
                        (m) => html`<tr key=${m.name} data-model=${m.name}>
                          <td class="mono ellipsis" title=${m.name}>${m.name}</td>
                          ${(["perJobSats", "per1kTokensSats"] as const).map(
                            (field) => html`<td>
                              <${TextInput}
                                class="input mono"
                                inputmode="decimal"
                                autocomplete="off"
                                placeholder="default"
                                aria-label=${`${m.name} ${field === "perJobSats" ? "price per job" : "price per 1,000 tokens"} (sats)`}
                                value=${m[field]}
                                data-testid=${`settings-model-${field}`}
                                aria-invalid=${errors.models?.startsWith(`${m.name}:`) ? "true" : undefined}
                                onValue=${(v: string) => setModel(m.name, field, v)}
                              />
                            </td>`,
                          )}
                        </tr>`,
                      )}
                    </tbody>
                  </table>
                  ${errors.models ? html`<p class="field-error" role="alert" data-testid="settings-models-error">${errors.models}</p>` : null}
                </div>`
              : null}
          </fieldset>
          <fieldset class="group">
            <legend>LIMITS</legend>
            <div class="grid-2">
              ${LIMIT_FIELDS.map(
                ([key, label, hint]) => html`<${Field} label=${label} id=${`set-${key}`} error=${errors[key]} hint=${hint || undefined}>${input(key)}<//>`,
              )}
              <${Field} label="When going offline" id="set-onOffline">
                <select id="set-onOffline" class="input" value=${form.onOffline} data-testid="settings-onOffline" onChange=${(e: Event) => set("onOffline", (e.target as HTMLSelectElement).value as "finish" | "cancel")}>
                  <option value="finish">Finish running jobs</option>
                  <option value="cancel">Cancel running jobs</option>
                </select>
              <//>
              <div class="field check">
                <label>
                  <input type="checkbox" checked=${form.allowPrivateUrls} data-testid="settings-allowPrivateUrls" onChange=${(e: Event) => set("allowPrivateUrls", (e.target as HTMLInputElement).checked)} />
                  Allow inputs that point at private network addresses
                </label>
              </div>
            </div>
          </fieldset>
          ${sched
            ? html`<${ScheduleSection} form=${sched} errors=${schedErrors} set=${(p: Partial<ScheduleForm>) => setSched((f) => (f ? { ...f, ...p } : f))} />`
            : null}
          <fieldset class="group">
            <legend>PROFILE</legend>
            <p class="note">How customers' Nostr clients show you: in your announcement, and in a profile (kind 0) if you publish one. A change goes out when you save.</p>
            <div class="grid-2">
              <${Field} label="Name" id="set-name" error=${errors.name} hint=${`Up to ${PROFILE_MAX.name} characters.`}>
                <${TextInput}
                  id="set-name"
                  class="input"
                  autocomplete="off"
                  maxlength=${PROFILE_MAX.name}
                  value=${form.name}
                  data-testid="settings-name"
                  aria-invalid=${errors.name ? "true" : undefined}
                  onValue=${(v: string) => set("name", v)}
                />
              <//>
              <${Field} label="Picture URL" id="set-picture" error=${errors.picture} hint="An image's https:// address; empty for none.">
                <${TextInput}
                  id="set-picture"
                  class="input mono"
                  type="url"
                  inputmode="url"
                  autocomplete="off"
                  spellcheck="false"
                  placeholder="https://…"
                  value=${form.picture}
                  data-testid="settings-picture"
                  aria-invalid=${errors.picture ? "true" : undefined}
                  onValue=${(v: string) => set("picture", v)}
                />
              <//>
              <${Field} label="About" id="set-about" error=${errors.about}>
                <${TextInput}
                  multiline
                  id="set-about"
                  class="input"
                  rows="2"
                  maxlength=${PROFILE_MAX.about}
                  value=${form.about}
                  data-testid="settings-about"
                  aria-invalid=${errors.about ? "true" : undefined}
                  onValue=${(v: string) => set("about", v)}
                />
              <//>
              <div class="field check">
                <div>
                  <label>
                    <input type="checkbox" checked=${form.publishProfile} data-testid="settings-publishProfile" onChange=${(e: Event) => set("publishProfile", (e.target as HTMLInputElement).checked)} />
                    Publish my profile (kind 0) when online, if it has a name
                  </label>
                </div>
              </div>
            </div>
          </fieldset>
          <fieldset class="group">
            <legend>CUSTOMERS</legend>
            <div class="grid-2">
              ${(
                [
                  ["allow", "Serve only these", "Empty: serve everyone. Otherwise only these customers."],
                  ["deny", "Never serve these", "They are told you do not take their jobs."],
                ] as const
              ).map(
                ([key, label, hint]) => html`<${Field} label=${label} id=${`set-${key}`} error=${errors[key]} hint=${hint}>
                  <${TextInput}
                    multiline
                    id=${`set-${key}`}
                    class="input mono"
                    rows="3"
                    spellcheck="false"
                    autocomplete="off"
                    placeholder="npub1… or hex, one per line"
                    value=${form[key]}
                    data-testid=${`settings-${key}`}
                    aria-invalid=${errors[key] ? "true" : undefined}
                    onValue=${(v: string) => set(key, v)}
                  />
                <//>`,
              )}
            </div>
          </fieldset>
          ${saving.error ? html`<p class="field-error" role="alert" data-testid="settings-error">${saving.error}</p>` : null}
          <div class="btn-row end">
            <button type="button" class="btn btn-ghost" onClick=${props.onClose}>CANCEL</button>
            <${BusyButton} type="submit" class="btn btn-primary" data-testid="settings-save" busy=${saving.busy}>SAVE<//>
          </div>
        </form>`
      : null}
    ${form || loadErr
      ? html`<section class="group">
          <h3 class="legend">RECOVERY PHRASE</h3>
          <p class="note">Your phrase restores both your Nostr identity and your wallet. Enter your password to show it.</p>
          <${RevealSeed} />
        </section>`
      : null}
    ${loaded ? html`<p class="note faint small">Ollama: <code>${loaded.ollamaUrl}</code></p>` : null}
  <//>`;
}
