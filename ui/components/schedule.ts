// SETTINGS › SCHEDULE: the weekly hours to sell (a grid of hour cells, local time), the daily
// limits, and pausing while the machine is busy. The fields live in SettingsDialog's form.
import { html } from "htm/preact";
import { GRID_DAYS, type ScheduleErrors, type ScheduleForm } from "../schedule.ts";
import { Field, TextInput } from "./kit.ts";

const DAY_LABEL = { mon: "Mon", tue: "Tue", wed: "Wed", thu: "Thu", fri: "Fri", sat: "Sat", sun: "Sun" } as const;

export function ScheduleSection(props: { form: ScheduleForm; errors: ScheduleErrors; set: (patch: Partial<ScheduleForm>) => void }) {
  const { form, errors, set } = props;
  const toggle = (d: number, hours: number[]) => {
    const on = !hours.every((h) => form.grid[d]![h]);
    const grid = form.grid.map((row, i) => (i === d ? row.map((v, h) => (hours.includes(h) ? on : v)) : row));
    set({ grid, gridTouched: true });
  };
  const text = (key: keyof ScheduleErrors, label: string, hint?: string, placeholder?: string) =>
    html`<${Field} label=${label} id=${`sched-${key}`} error=${errors[key]} hint=${hint}>
      <${TextInput}
        id=${`sched-${key}`}
        class="input mono"
        inputmode="decimal"
        autocomplete="off"
        placeholder=${placeholder}
        value=${form[key]}
        data-testid=${`schedule-${key}`}
        aria-invalid=${errors[key] ? "true" : undefined}
        onValue=${(v: string) => set({ [key]: v } as Partial<ScheduleForm>)}
      />
    <//>`;
  const check = (key: "enabled" | "pauseEnabled" | "nvidia" | "ollama", label: string) =>
    html`<div class="field check">
      <div>
        <label><input type="checkbox" checked=${form[key]} data-testid=${`schedule-${key}`} onChange=${(e: Event) => set({ [key]: (e.target as HTMLInputElement).checked } as Partial<ScheduleForm>)} /> ${label}</label>
      </div>
    </div>`;
  const hours = Array.from({ length: 24 }, (_, h) => h);

  return html`<fieldset class="group" data-testid="settings-schedule">
    <legend>SCHEDULE</legend>
    <p class="note">When this machine sells, in its local time. Outside these hours compute goes offline by itself (running jobs get the grace below) and comes back when they start.</p>
    ${check("enabled", "Sell only in the hours marked below")}
    <table class=${`week-grid${form.enabled ? "" : " is-off"}`} data-testid="schedule-grid" aria-label="Weekly selling hours">
      <thead>
        <tr>
          <th></th>
          ${hours.map((h) => html`<th scope="col" class="hour">${h % 3 === 0 ? String(h).padStart(2, "0") : ""}</th>`)}
        </tr>
      </thead>
      <tbody>
        ${GRID_DAYS.map(
          (day, d) => html`<tr key=${day}>
            <th scope="row"><button type="button" class="link" title="Toggle the whole day" data-testid=${`schedule-day-${day}`} onClick=${() => toggle(d, hours)}>${DAY_LABEL[day]}</button></th>
            ${hours.map(
              (h) => html`<td>
                <button
                  type="button"
                  class=${`cell${form.grid[d]![h] ? " on" : ""}`}
                  aria-pressed=${form.grid[d]![h] ? "true" : "false"}
                  aria-label=${`${DAY_LABEL[day]} ${String(h).padStart(2, "0")}:00`}
                  data-testid=${`schedule-cell-${day}-${h}`}
                  onClick=${() => toggle(d, [h])}
                ></button>
              </td>`,
            )}
          </tr>`,
        )}
      </tbody>
    </table>
    <div class="grid-2">
      ${text("graceSecs", "Grace for running jobs (s)", "When the hours end or a limit is reached.")}
      ${text("maxJobsPerDay", "Jobs per day", "Empty: no limit.", "no limit")}
      ${text("maxSatsPerDay", "Stop after sats today", "Empty: no limit.", "no limit")}
      ${text("maxGpuHoursPerDay", "Stop after GPU hours today", "Empty: no limit.", "no limit")}
    </div>
    <h4 class="legend">PAUSE WHEN BUSY</h4>
    <p class="note">While you use the GPU, new customers are told "busy, try another provider"; selling resumes once the machine has been free for the hold time.</p>
    <div class="grid-2">
      ${check("pauseEnabled", "Pause while this machine is busy")}
      ${check("nvidia", "Other programs on the NVIDIA GPU")}
      ${check("ollama", "Models loaded in Ollama by other apps")}
      ${text("idleSecs", "Also when I used keyboard/mouse in the last (s)", "0: don't watch the keyboard.")}
      ${text("holdSecs", "Resume after free for (s)", "Longer avoids stopping and starting.")}
      <${Field} label="Jobs running when the pause starts" id="sched-running">
        <select id="sched-running" class="input" value=${form.running} data-testid="schedule-running" onChange=${(e: Event) => set({ running: (e.target as HTMLSelectElement).value as "finish" | "cancel" })}>
          <option value="finish">Let them finish</option>
          <option value="cancel">Cancel them</option>
        </select>
      <//>
    </div>
  </fieldset>`;
}
