// Compares our RFC 8785 output with npm `canonicalize` (the RFC's reference
// implementation), byte for byte. Run by jcs_crosscheck.sh:
//
//   node jcs_crosscheck.mjs <npm-scratch-dir> <input.jsonl> <ours.jsonl>
//
// Each input line is parsed with JSON.parse (so both sides parse the same
// number text) and canonicalized; the bytes must equal the same line of
// ours.jsonl. Exits 0 when every record matches, 1 otherwise, printing the
// first few differences.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const [scratch, inputPath, oursPath] = process.argv.slice(2);
if (!scratch || !inputPath || !oursPath) {
  console.error('usage: node jcs_crosscheck.mjs <npm-scratch-dir> <input.jsonl> <ours.jsonl>');
  process.exit(2);
}
const require = createRequire(path.join(path.resolve(scratch), 'package.json'));
const canonicalize = require('canonicalize');
const version = require('canonicalize/package.json').version;

// Splits on LF at the byte level: our output must be compared as raw bytes.
function lines (buffer) {
  const out = [];
  let start = 0;
  for (let i = 0; i < buffer.length; ++i) {
    if (buffer[i] === 0x0a) { out.push(buffer.subarray(start, i)); start = i + 1; }
  }
  if (start < buffer.length) out.push(buffer.subarray(start));
  return out;
}

const inputs = lines(readFileSync(inputPath));
const ours = lines(readFileSync(oursPath));
const k_show = 5;
let mismatches = 0;
const shown = [];

if (inputs.length !== ours.length) {
  console.error(`record count differs: ${inputs.length} inputs, ${ours.length} outputs from our side`);
  process.exit(1);
}
if (inputs.length === 0) {
  console.error('no records to compare: the generator wrote nothing');
  process.exit(1);
}

for (let i = 0; i < inputs.length; ++i) {
  const text = inputs[i].toString('utf8');
  let theirs;
  try {
    theirs = Buffer.from(canonicalize(JSON.parse(text)), 'utf8');
  } catch (e) {
    theirs = Buffer.from(`!reference threw: ${e.message}`, 'utf8');
  }
  if (!theirs.equals(ours[i])) {
    ++mismatches;
    if (shown.length < k_show) {
      let at = 0;
      while (at < theirs.length && at < ours[i].length && theirs[at] === ours[i][at]) ++at;
      shown.push({ record: i, firstDifferingByte: at, input: text,
        ours: ours[i].toString('utf8'), reference: theirs.toString('utf8') });
    }
  }
}

for (const s of shown) {
  console.error(`--- record ${s.record} differs at byte ${s.firstDifferingByte}`);
  console.error(`input:     ${s.input}`);
  console.error(`ours:      ${s.ours}`);
  console.error(`reference: ${s.reference}`);
}
console.log(`jcs_crosscheck: compared ${inputs.length} records with canonicalize@${version}: ` +
  `${mismatches} mismatches`);
process.exit(mismatches === 0 ? 0 : 1);
