// Checks the code signature of a thin 64-bit Mach-O executable the way macOS does, without a Mac:
// finds LC_CODE_SIGNATURE, reads the SuperBlob and its CodeDirectory, and recomputes every page
// hash over the code it covers. Apple Silicon runs only signed code (an ad-hoc signature is
// enough); a signature whose hashes do not match gets the process killed at launch.
//   bun scripts/macho-signature.ts dist/compute-darwin-arm64 [...]
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";

const MH_MAGIC_64 = 0xfeedfacf;
const LC_CODE_SIGNATURE = 0x1d;
const CSMAGIC_EMBEDDED_SIGNATURE = 0xfade0cc0;
const CSMAGIC_CODEDIRECTORY = 0xfade0c02;
const CSSLOT_SIGNATURESLOT = 0x10000; // a CMS blob: a signature by a certificate (not ad-hoc)
const CS_ADHOC = 0x2;
const CS_RUNTIME = 0x10000;
const CS_LINKER_SIGNED = 0x20000;

export interface MachOSignature {
  /** It has a signature whose every page hash matches and which covers all the code. */
  valid: boolean;
  signed: boolean;
  adhoc: boolean;
  linkerSigned: boolean;
  hardenedRuntime: boolean;
  /** Signed with a certificate (a CMS blob), e.g. the Bun runtime's own signature left in place. */
  certificate: boolean;
  identifier: string | null;
  pages: number;
  badPages: number[];
  problem: string | null;
}

export function checkMachOSignature(buf: Uint8Array): MachOSignature {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: MachOSignature = { valid: false, signed: false, adhoc: false, linkerSigned: false, hardenedRuntime: false, certificate: false, identifier: null, pages: 0, badPages: [], problem: null };
  if (buf.length < 32 || dv.getUint32(0, true) !== MH_MAGIC_64) return { ...out, problem: "not a thin 64-bit Mach-O file" };
  const ncmds = dv.getUint32(16, true);
  let at = 32;
  let sig: { off: number; size: number } | null = null;
  for (let i = 0; i < ncmds && at + 8 <= buf.length; i++) {
    const cmd = dv.getUint32(at, true);
    const size = dv.getUint32(at + 4, true);
    if (cmd === LC_CODE_SIGNATURE) sig = { off: dv.getUint32(at + 8, true), size: dv.getUint32(at + 12, true) };
    if (size < 8) return { ...out, problem: "a load command is malformed" };
    at += size;
  }
  if (!sig) return { ...out, problem: "no LC_CODE_SIGNATURE: the file is not signed" };
  out.signed = true;
  if (sig.off + sig.size > buf.length || dv.getUint32(sig.off, false) !== CSMAGIC_EMBEDDED_SIGNATURE) return { ...out, problem: "the signature is not where its load command says" };
  const count = dv.getUint32(sig.off + 8, false);
  let cd = -1;
  for (let i = 0; i < count; i++) {
    const type = dv.getUint32(sig.off + 12 + i * 8, false);
    const off = sig.off + dv.getUint32(sig.off + 16 + i * 8, false);
    if (type === CSSLOT_SIGNATURESLOT) out.certificate = true;
    if (type === 0 && dv.getUint32(off, false) === CSMAGIC_CODEDIRECTORY) cd = off;
  }
  if (cd < 0) return { ...out, problem: "the signature has no CodeDirectory" };
  const flags = dv.getUint32(cd + 12, false);
  const hashOffset = dv.getUint32(cd + 16, false);
  const identOffset = dv.getUint32(cd + 20, false);
  const nCodeSlots = dv.getUint32(cd + 28, false);
  const codeLimit = dv.getUint32(cd + 32, false);
  const hashSize = buf[cd + 36]!;
  const hashType = buf[cd + 37]!;
  const pageSize = 2 ** buf[cd + 39]!;
  out.adhoc = (flags & CS_ADHOC) !== 0;
  out.linkerSigned = (flags & CS_LINKER_SIGNED) !== 0;
  out.hardenedRuntime = (flags & CS_RUNTIME) !== 0;
  let end = cd + identOffset;
  while (end < buf.length && buf[end] !== 0) end++;
  out.identifier = new TextDecoder().decode(buf.subarray(cd + identOffset, end));
  out.pages = nCodeSlots;
  const algo = hashType === 2 ? "sha256" : hashType === 1 ? "sha1" : null;
  if (!algo) return { ...out, problem: `unknown hash type ${hashType}` };
  for (let p = 0; p < nCodeSlots; p++) {
    // The last page is hashed as far as codeLimit, not padded.
    const page = buf.subarray(p * pageSize, Math.min((p + 1) * pageSize, codeLimit));
    const want = buf.subarray(cd + hashOffset + p * hashSize, cd + hashOffset + (p + 1) * hashSize);
    if (!Buffer.from(createHash(algo).update(page).digest().subarray(0, hashSize)).equals(want)) out.badPages.push(p);
  }
  if (codeLimit !== sig.off) out.problem = `the signature covers ${codeLimit} bytes of code but the code runs to ${sig.off}`;
  else if (nCodeSlots !== Math.ceil(codeLimit / pageSize)) out.problem = "the signature has the wrong number of pages";
  else if (out.badPages.length) out.problem = `${out.badPages.length} of ${nCodeSlots} page hashes do not match (the file was changed after signing)`;
  out.valid = out.problem === null;
  return out;
}

/** One line for a person: what the signature is and, if it would not run, what to do. */
export function describeSignature(file: string, s: MachOSignature): string {
  if (s.valid) return `${file}: valid ${s.adhoc ? "ad-hoc " : ""}signature${s.linkerSigned ? " (linker-signed)" : ""}, ${s.pages} pages`;
  return `${file}: signature NOT valid (${s.problem}); on a Mac, sign it ad hoc: codesign --force --sign - ${file.split("/").pop()}`;
}

if (import.meta.main) {
  let bad = 0;
  for (const file of process.argv.slice(2)) {
    const s = checkMachOSignature(readFileSync(file));
    if (!s.valid) bad++;
    console.log(describeSignature(file, s));
  }
  process.exit(bad ? 1 : 0);
}
