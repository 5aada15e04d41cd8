// WALLET: balance, receive (invoice or address, with a QR code), send (fee preview, then confirm)
// and the history of payments received and sent.
import { html } from "htm/preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { useAction } from "../action.ts";
import {
  errorText,
  walletDeleteLightningAddress,
  walletHistory,
  walletReceive,
  walletSendConfirm,
  walletSendPrepare,
  walletSetBreezKey,
  walletSetLightningAddress,
  type ReceiveResult,
  type SendPreview,
  type SendResult,
} from "../api.ts";
import { formatAgo, formatInt, formatMsats, parseWholeSats, shortId, walletTone } from "../format.ts";
import { historyRows, type WalletHistory } from "../history.ts";
import { encodeQr, qrSvgPath, receiveQrText } from "../qr.ts";
import { lastPayment, wallet } from "../state.ts";
import { notify } from "../toast.ts";
import { openDialog } from "./dialogs.ts";
import { BusyButton, CopyButton, Dialog, Field, Light, Panel, Spinner, TextInput } from "./kit.ts";

const STATE_TEXT: Record<string, string> = {
  locked: "LOCKED",
  not_configured: "NOT SET UP",
  connecting: "CONNECTING",
  ready: "READY",
  error: "ERROR",
};

export function WalletPanel() {
  const w = wallet.value;
  const ready = w.state === "ready";
  return html`<${Panel}
    title="WALLET"
    testid="wallet-panel"
    actions=${html`<span class="status-tag" data-testid="wallet-state" data-state=${w.state}>
      <${Light} tone=${walletTone(w.state)} pulse=${w.state === "connecting"} />${STATE_TEXT[w.state] ?? w.state}
    </span>`}
  >
    <div class="balance">
      <span class=${`balance-figure${w.balanceSats === null ? " none" : ""}`} data-testid="balance">${w.balanceSats === null ? "—" : formatInt(w.balanceSats)}</span>
      <span class="balance-unit">sats</span>
      ${w.network !== "mainnet" ? html`<span class="badge badge-warn" title="Test network: these sats have no value">${w.network.toUpperCase()}</span>` : null}
    </div>
    ${w.state === "not_configured" ? html`<${BreezKeyForm} />` : w.message ? html`<p class="note" data-testid="wallet-message">${w.message}</p>` : null}
    ${w.lightningAddress
      ? html`<div class="addr-line">
          <code class="mono ellipsis" title=${w.lightningAddress} data-testid="wallet-lnaddress">${w.lightningAddress}</code>
          <${CopyButton} text=${w.lightningAddress} label="Copy Lightning address" compact />
          <button type="button" class="link" data-testid="wallet-lnaddress-edit" onClick=${() => (openDialog.value = "lnaddress")}>change</button>
        </div>`
      : ready
        ? html`<p class="note">
            <button type="button" class="link" data-testid="wallet-lnaddress-set" onClick=${() => (openDialog.value = "lnaddress")}>Get a Lightning address</button>
            — zaps and tips then reach you without an invoice.
          </p>`
        : null}
    <div class="btn-row">
      <button type="button" class="btn btn-primary" data-testid="wallet-receive" disabled=${!ready} onClick=${() => (openDialog.value = "receive")}>RECEIVE</button>
      <button type="button" class="btn" data-testid="wallet-send" disabled=${!ready} onClick=${() => (openDialog.value = "send")}>SEND</button>
      <button type="button" class="btn" data-testid="wallet-history" disabled=${w.state === "locked"} onClick=${() => (openDialog.value = "history")}>HISTORY</button>
    </div>
  <//>`;
}

/** This build carries no Breez API key: the person pastes one (saved to config.json, never shown again in full). */
function BreezKeyForm() {
  const [key, setKey] = useState("");
  const { busy, error, setError, run } = useAction();
  const save = (e: Event) => {
    e.preventDefault();
    if (!key.trim()) return setError("Paste the key first.");
    void run(async () => {
      const r = await walletSetBreezKey(key.trim());
      setKey("");
      notify("ok", `Breez API key saved (${r.hint ?? "set"}); the wallet is connecting.`);
    });
  };
  return html`<form class="stack breez-key" onSubmit=${save} data-testid="breez-key-form">
    <p class="note">
      This build has no Breez API key, which the mainnet wallet needs: request one free from Breez (on
      breez.technology, "request an API key" for the SDK) and paste it here.
    </p>
    <${Field} label="Breez API key" id="breez-key" error=${error}>
      <${TextInput}
        id="breez-key"
        class="input mono"
        type="password"
        autocomplete="off"
        spellcheck=${false}
        value=${key}
        data-testid="breez-key-input"
        onValue=${setKey}
      />
    <//>
    <div class="btn-row end">
      <${BusyButton} type="submit" class="btn btn-primary" data-testid="breez-key-save" busy=${busy}>SAVE KEY<//>
    </div>
  </form>`;
}

function Qr(props: { text: string }) {
  const qr = useMemo(() => {
    try {
      return encodeQr(props.text, "M");
    } catch {
      return null;
    }
  }, [props.text]);
  if (!qr) return html`<p class="note">Too long to show as a QR code: copy the text instead.</p>`;
  const n = qr.size + 8;
  return html`<svg class="qr" viewBox=${`0 0 ${n} ${n}`} role="img" aria-label="QR code" data-testid="receive-qr" shape-rendering="crispEdges">
    <rect width=${n} height=${n} fill="#fff" />
    <path d=${qrSvgPath(qr)} fill="#000" />
  </svg>`;
}

export function ReceiveDialog(props: { onClose: () => void }) {
  const [amount, setAmount] = useState("");
  const { busy, error, setError, run } = useAction();
  const [result, setResult] = useState<ReceiveResult | null>(null);
  const [tab, setTab] = useState<"bolt11" | "address">("bolt11");
  const openedAt = useMemo(() => Date.now(), []);
  const last = lastPayment.value;
  const paid = last && last.at >= openedAt ? last : null;

  const submit = (e: Event) => {
    e.preventDefault();
    const sats = parseWholeSats(amount);
    if (Number.isNaN(sats)) {
      setError("Enter a whole number of sats, or leave it empty.");
      return;
    }
    void run(async () => {
      const r = await walletReceive(sats ?? undefined);
      setResult(r);
      setTab(r.bolt11 ? "bolt11" : "address");
    });
  };

  const shown = result ? (tab === "bolt11" ? result.bolt11 : result.address) : null;
  // The notice's line is there, unseen, from the first frame: when a payment comes it shows in
  // place, without pushing the form (or the invoice being paid) down.
  return html`<${Dialog} title="RECEIVE" onClose=${props.onClose} testid="receive-dialog">
    ${paid
      ? html`<p class="banner banner-ok" role="status" data-testid="receive-paid">Received ${formatMsats(paid.amountMsats)} sats.</p>`
      : html`<p class="banner" role="status" style="visibility: hidden">${"\u00a0"}</p>`}
    <form class="form-inline" onSubmit=${submit}>
      <${Field} label="Amount (sats)" id="receive-amount" error=${error} hint="Leave empty for an amount the payer chooses.">
        <${TextInput}
          id="receive-amount"
          class="input mono"
          autofocus
          inputmode="numeric"
          autocomplete="off"
          placeholder="e.g. 5000"
          value=${amount}
          data-testid="receive-amount"
          onValue=${setAmount}
        />
      <//>
      <${BusyButton} type="submit" class="btn btn-primary" data-testid="receive-create" busy=${busy}>CREATE<//>
    </form>
    ${result
      ? html`<div class="receive-result">
          ${result.bolt11 && result.address
            ? html`<div class="tabs" role="tablist">
                <button type="button" role="tab" aria-selected=${tab === "bolt11"} class=${`tab${tab === "bolt11" ? " active" : ""}`} onClick=${() => setTab("bolt11")}>INVOICE</button>
                <button type="button" role="tab" aria-selected=${tab === "address"} class=${`tab${tab === "address" ? " active" : ""}`} onClick=${() => setTab("address")}>ADDRESS</button>
              </div>`
            : null}
          ${shown
            ? html`<div class="qr-wrap"><${Qr} text=${receiveQrText(tab, shown)} /></div>
                <div class="copy-field">
                  <code class="mono wrap-all" data-testid="receive-text">${shown}</code>
                  <${CopyButton} text=${shown} label=${tab === "bolt11" ? "Copy invoice" : "Copy address"} testid="receive-copy" />
                </div>`
            : html`<p class="note">The wallet gave nothing to show.</p>`}
        </div>`
      : null}
  <//>`;
}

const DEST_TYPES: Record<string, string> = {
  bolt11: "Lightning invoice",
  bolt11Invoice: "Lightning invoice",
  lightningAddress: "Lightning address",
  lnurlPay: "LNURL-pay",
  bitcoinAddress: "Bitcoin address",
  sparkAddress: "Spark address",
};

export function SendDialog(props: { onClose: () => void }) {
  const [dest, setDest] = useState("");
  const [amount, setAmount] = useState("");
  const { busy, error, setError, run } = useAction();
  const [preview, setPreview] = useState<SendPreview | null>(null);
  const [password, setPassword] = useState("");
  const [sent, setSent] = useState<SendResult | null>(null);

  const prepare = (e: Event) => {
    e.preventDefault();
    const sats = parseWholeSats(amount);
    if (!dest.trim()) return setError("Paste an invoice or an address.");
    if (Number.isNaN(sats)) return setError("Enter a whole number of sats, or leave it empty for an invoice that has one.");
    void run(async () => setPreview(await walletSendPrepare(dest.trim(), sats ?? undefined)));
  };
  const confirm = async () => {
    if (!preview) return;
    if (!password) return setError("Enter the vault password: it is needed to send.");
    // A failure whose outcome is unknown keeps the quote: SEND again reuses its payment key.
    await run(async () => setSent(await walletSendConfirm(preview.id, password)));
    setPassword("");
  };

  if (sent && preview) {
    // Only a completed payment is "Sent": a pending one is still on its way, a failed one did not pay.
    const text =
      sent.status === "completed"
        ? `Sent ${formatInt(sent.amountSats)} sats (fee ${formatInt(sent.feeSats)}).`
        : sent.status === "pending"
          ? `Pending: ${formatInt(sent.amountSats)} sats are on their way but not settled yet. HISTORY shows when the payment completes or fails.`
          : "The payment failed: the wallet reports it did not go through, so nothing was paid.";
    return html`<${Dialog} title="SEND" onClose=${props.onClose} testid="send-dialog">
      <p class=${`banner ${sent.status === "completed" ? "banner-ok" : sent.status === "pending" ? "banner-warn" : "banner-bad"}`} role="status" data-testid="send-done" data-status=${sent.status}>${text}</p>
      <div class="btn-row end"><button type="button" class="btn btn-primary" onClick=${props.onClose}>DONE</button></div>
    <//>`;
  }
  if (preview) {
    return html`<${Dialog} title="CONFIRM SEND" onClose=${props.onClose} testid="send-dialog">
      <dl class="review" data-testid="send-review">
        <div><dt>To</dt><dd class="mono wrap-all">${dest.trim()}</dd></div>
        <div><dt>Type</dt><dd>${DEST_TYPES[preview.destinationType] ?? preview.destinationType}</dd></div>
        <div><dt>Amount</dt><dd class="mono" data-testid="send-amount">${formatInt(preview.amountSats)} sats</dd></div>
        <div><dt>Network fee</dt><dd class="mono" data-testid="send-fee">${formatInt(preview.feeSats)} sats</dd></div>
        <div class="total"><dt>Total</dt><dd class="mono">${formatInt(preview.amountSats + preview.feeSats)} sats</dd></div>
      </dl>
      ${preview.retry
        ? html`<p class="banner banner-warn" data-testid="send-retry">An earlier send of this may have gone through: sending again reuses its payment key, so it can't pay twice.</p>`
        : null}
      <${Field} label="Vault password" id="send-password" hint="Money leaves the wallet only with the password that protects your seed phrase.">
        <${TextInput}
          id="send-password"
          class="input"
          type="password"
          autocomplete="current-password"
          value=${password}
          data-testid="send-password"
          onValue=${setPassword}
          onKeyDown=${(e: KeyboardEvent) => e.key === "Enter" && !busy && void confirm()}
        />
      <//>
      ${error ? html`<p class="field-error" role="alert" data-testid="send-confirm-error">${error}</p>` : null}
      <div class="btn-row end">
        <button type="button" class="btn btn-ghost" disabled=${busy} onClick=${() => setPreview(null)}>BACK</button>
        <${BusyButton} type="button" class="btn btn-primary" data-testid="send-confirm" busy=${busy} onClick=${confirm}>SEND ${formatInt(preview.amountSats + preview.feeSats)} SATS<//>
      </div>
    <//>`;
  }
  return html`<${Dialog} title="SEND" onClose=${props.onClose} testid="send-dialog">
    <form onSubmit=${prepare} class="stack">
      <${Field} label="Pay to" id="send-dest" hint="A Lightning invoice, Lightning address or Bitcoin address.">
        <${TextInput}
          multiline
          id="send-dest"
          class="input mono"
          autofocus
          rows="3"
          spellcheck=${false}
          autocomplete="off"
          value=${dest}
          data-testid="send-destination"
          onValue=${setDest}
        />
      <//>
      <${Field} label="Amount (sats)" id="send-amount" hint="Needed unless the invoice carries an amount.">
        <${TextInput}
          id="send-amount"
          class="input mono"
          inputmode="numeric"
          autocomplete="off"
          value=${amount}
          data-testid="send-amount-input"
          onValue=${setAmount}
        />
      <//>
      ${error ? html`<p class="field-error" role="alert" data-testid="send-error">${error}</p>` : null}
      <div class="btn-row end">
        <${BusyButton} type="submit" class="btn btn-primary" data-testid="send-prepare" busy=${busy}>REVIEW FEE<//>
      </div>
    </form>
  <//>`;
}

/** A name for a Lightning address (the wallet's rule, as src/wallet/wallet.ts LightningUsername). */
const USERNAME = /^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$/;

/** Register, change or remove the wallet's Lightning address (name@the wallet's domain). */
export function LightningAddressDialog(props: { onClose: () => void }) {
  const current = wallet.value.lightningAddress;
  const [name, setName] = useState(current ? current.split("@")[0]! : "");
  const { busy, error, setError, run: runAction } = useAction({ onDone: props.onClose });
  /** One wallet call at a time: its answer becomes the notice, and the dialog closes. */
  const run = (call: () => Promise<string>) => runAction(async () => notify("ok", await call()));

  const save = (e: Event) => {
    e.preventDefault();
    const username = name.trim().toLowerCase();
    if (!USERNAME.test(username)) {
      setError("Use 1–64 lowercase letters, digits, '.', '-' or '_' (not at the start or end).");
      return;
    }
    void run(async () => `Your Lightning address is ${(await walletSetLightningAddress(username)).lightningAddress.address}.`);
  };

  const remove = () =>
    void run(async () => {
      await walletDeleteLightningAddress();
      return "Lightning address removed.";
    });

  return html`<${Dialog} title="LIGHTNING ADDRESS" onClose=${props.onClose} testid="lnaddress-dialog">
    ${current ? html`<p class="note">Now: <code class="mono">${current}</code></p>` : null}
    <form class="form-inline" onSubmit=${save}>
      <${Field} label="Name" id="lnaddress-name" error=${error} hint="The part before the @; the wallet service gives the domain. A taken name is refused.">
        <${TextInput}
          id="lnaddress-name"
          class="input mono"
          autofocus
          autocomplete="off"
          spellcheck="false"
          placeholder="e.g. satoshi"
          value=${name}
          data-testid="lnaddress-name"
          onValue=${setName}
        />
      <//>
      <${BusyButton} type="submit" class="btn btn-primary" data-testid="lnaddress-save" busy=${busy}>SAVE<//>
    </form>
    ${current
      ? html`<div class="btn-row">
          <button type="button" class="btn btn-danger" disabled=${busy} data-testid="lnaddress-remove" onClick=${remove}>REMOVE ADDRESS</button>
        </div>`
      : null}
  <//>`;
}

/** Payments received (with the job each paid) and sent, newest first; reloaded when the balance moves. */
export function HistoryDialog(props: { onClose: () => void }) {
  const balance = wallet.value.balanceSats;
  const [data, setData] = useState<WalletHistory | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    walletHistory(50)
      .then((h) => live && (setData(h), setError(null)))
      .catch((err) => live && setError(errorText(err)));
    return () => {
      live = false;
    };
  }, [balance]);
  const rows = data ? historyRows(data) : [];
  // Screen-high from the first frame (as SETTINGS): the close button doesn't jump when the table comes.
  return html`<${Dialog} title="HISTORY" onClose=${props.onClose} testid="history-dialog" tall>
    ${error ? html`<p class="field-error" role="alert" data-testid="history-error">${error}</p>` : null}
    ${!data && !error ? html`<p class="note"><${Spinner} /> Loading…</p>` : null}
    ${data?.sentError ? html`<p class="note" data-testid="history-sent-note">Sent payments are not listed: ${data.sentError}</p>` : null}
    ${data && rows.length === 0 ? html`<p class="note" data-testid="history-empty">No payments yet.</p>` : null}
    ${rows.length
      ? html`<table class="table history" data-testid="history-table">
          <thead><tr><th>WHEN</th><th class="num">SATS</th><th>WHAT</th></tr></thead>
          <tbody>
            ${rows.map(
              (r) => html`<tr key=${r.key} data-testid="history-row" data-kind=${r.key[0] === "r" ? "received" : "sent"} data-flag=${r.flag ?? ""}>
                <td title=${new Date(r.at).toLocaleString()}>${formatAgo(r.at)}</td>
                <td class=${`num mono ${r.deltaMsats > 0 ? "plus" : r.deltaMsats < 0 ? "minus" : ""}`}>${r.deltaMsats > 0 ? "+" : ""}${formatMsats(r.deltaMsats)}</td>
                <td>
                  ${r.what}${r.jobId ? html` <span class="mono dim" title=${r.jobId}>job ${shortId(r.jobId)}</span>` : null}
                  ${r.flag ? html` <span class=${`badge ${r.flag === "failed" ? "badge-bad" : "badge-warn"}`}>${r.flag.toUpperCase()}</span>` : null}
                </td>
              </tr>`,
            )}
          </tbody>
        </table>`
      : null}
  <//>`;
}
