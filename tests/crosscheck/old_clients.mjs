// Intents signed the way the old RareGen service's own clients sign them,
// with npm's @bsv/sdk for keys and ECDSA and the old service's canonical
// form for the hash (its src/crypto/signatures.ts: JSON.stringify of the
// record rebuilt with Object.keys(o).sort(), recursively; JavaScript lists
// array-index keys such as "2024" first, in numeric order):
//
//   node old_clients.mjs gen   --sdk DIR --out DIR [--count N]
//       writes intents.ndjson, registered.txt and expected.json:
//       every signature.alg label the old clients send, both signature.hash
//       forms (the hex digest; the label "sha256"), high-S signatures,
//       non-ASCII text and control characters, integer-like member names,
//       numbers JavaScript writes its own way; plus tampered intents, each
//       with the reason raregen must give.
//   node old_clients.mjs check --sdk DIR --dir DIR
//       reads raregen run's txs.ef, rejects.jsonl and summary.json there:
//       every valid intent published once with the hash the client signed
//       (read back from the transaction with @bsv/sdk), every tampered one
//       refused with its reason, nothing else.
//   node old_clients.mjs post  --sdk DIR --url URL --intents FILE --dir DIR
//       the old clients' way to the service: one POST /v1/publish per
//       intent (JSON, eight at a time) to `raregen serve` at URL; checks each
//       answer (202 with the hash the client signed and status queued, or
//       400 with a code) and writes the 400s as DIR/rejects.jsonl for check.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

function usage (msg) {
  console.error(`old_clients.mjs: ${msg}`);
  console.error('usage: node old_clients.mjs gen --sdk DIR --out DIR [--count N]\n' +
                '       node old_clients.mjs check --sdk DIR --dir DIR');
  process.exit(2);
}

const [mode, ...rest] = process.argv.slice(2);
const args = {};
for (let k = 0; k < rest.length; k += 2) {
  if (k + 1 >= rest.length) usage(`${rest[k]} needs a value`);
  args[rest[k].replace(/^--/, '')] = rest[k + 1];
}
if (!args.sdk) usage('--sdk DIR is required');
const require = createRequire(path.join(path.resolve(args.sdk), 'index.js'));
const sdk = require('@bsv/sdk');

// ---- the old service's canonical form and signing --------------------------
function sortKeys (obj) {
  if (obj === null || obj === undefined) return obj;
  if (Array.isArray(obj)) return obj.map(sortKeys);
  if (typeof obj === 'object') {
    const sorted = {};
    Object.keys(obj).sort().forEach((key) => { sorted[key] = sortKeys(obj[key]); });
    return sorted;
  }
  return obj;
}
const oldCanonical = (record) => JSON.stringify(sortKeys(record));
const sha256Hex = (text) => Buffer.from(sdk.Hash.sha256(text, 'utf8')).toString('hex');
const curveN = new sdk.Curve().n;

function signOld (key, record, { alg, hashForm, highS }) {
  const text = oldCanonical(record);
  let sig = key.sign(text, 'utf8'); // ECDSA over sha256(text), low-S
  if (highS) sig = new sdk.Signature(sig.r, curveN.sub(sig.s));
  const signature = { alg, sig: Buffer.from(sig.toDER()).toString('base64') };
  if (hashForm === 'hex') signature.hash = sha256Hex(text);
  if (hashForm === 'label') signature.hash = 'sha256';
  return {
    protocol: 'sl-drm',
    version: 1,
    record,
    signer: { pubkey: key.toPublicKey().toString() },
    signature
  };
}

function baseRecord (i, now) {
  return {
    type: ['music', 'movie', 'book', 'document'][i % 4],
    assetId: `asset-${i}`,
    recordId: `old-client-${i}`,
    event: ['REGISTER', 'UPDATE', 'ASSIGN', 'SPLIT_CHANGE'][i % 4],
    timestamp: new Date(now - 1000 * (i % 60)).toISOString(),
    owners: [{ partyId: 'p-1', role: 'composer', shareBps: 6000 },
      { partyId: 'p-2', role: 'publisher', shareBps: 4000 }],
    distribution: { cdnUrl: `https://cdn.example.com/${i}.flac`, contentType: 'audio/flac' },
    terms: { territory: 'WW', rights: ['stream', 'download'], mechanical: 0.091 },
    nonce: `old-nonce-${i}-${Math.random().toString(36).slice(2)}`
  };
}

// Variations the old clients produce; each record gets one.
const variations = [
  (r) => r,
  (r) => { r.assetId = 'Café — 録音 🎵 "quoted" \\ back'; r.owners[0].partyId = 'Zoë 👩‍🎤'; return r; },
  (r) => { r.terms.note = 'bell\u0007 tab\t line\u2028sep \u001f'; return r; },
  (r) => { r.terms.royaltiesByYear = { 2024: 12, 9: 3, 10: 7, total: 22 }; return r; },
  (r) => { r['7'] = 'top-level index key'; r.terms.byTerritory = { 840: 'US', 76: 'BR', GB: 'GB' }; return r; },
  (r) => { r.terms.mechanical = 2500.0; r.terms.big = 1e21; r.terms.small = 1.5e-7; r.terms.sum = 0.1 + 0.2; return r; },
  (r) => { r.terms.nested = { b: [{ 10: 'x', 2: 'y' }, 'k'], a: null }; return r; }
];
const labels = ['ecdsa', 'bsv-ecdsa-secp256k1', 'ECDSA', 'Bsv-Ecdsa-Secp256k1', 'ecdsa-secp256k1'];
const hashForms = ['hex', 'label', 'hex', 'none'];

if (mode === 'gen') {
  if (!args.out) usage('--out DIR is required');
  const count = Number(args.count ?? 280);
  const now = Date.now();
  const keys = [sdk.PrivateKey.fromRandom(), sdk.PrivateKey.fromRandom()];
  const stranger = sdk.PrivateKey.fromRandom(); // never registered
  const lines = [];
  const accepted = {};
  const rejected = {};
  for (let i = 0; i < count; ++i) {
    const record = variations[i % variations.length](baseRecord(i, now));
    const key = keys[i % keys.length];
    const opts = {
      alg: labels[i % labels.length],
      hashForm: hashForms[Math.floor(i / labels.length) % hashForms.length],
      highS: i % 3 === 0
    };
    const intent = signOld(key, record, opts);
    const tamper = i % 20; // one in four is damaged, in one of five ways
    if (tamper === 1) {
      intent.record.assetId += '!'; // changed after signing
      rejected[record.recordId] = 'bad_signature';
    } else if (tamper === 5) {
      intent.signature.hash = sha256Hex('something else');
      rejected[record.recordId] = 'bad_signature';
    } else if (tamper === 9) {
      intent.signature.alg = 'rsa-sha256';
      rejected[record.recordId] = 'schema';
    } else if (tamper === 13) {
      intent.signature = signOld(keys[(i + 1) % keys.length], record, opts).signature;
      rejected[record.recordId] = 'bad_signature'; // another key's signature
    } else if (tamper === 17) {
      Object.assign(intent, signOld(stranger, record, opts));
      rejected[record.recordId] = 'unknown_signer';
    } else {
      accepted[record.recordId] = sha256Hex(oldCanonical(record));
    }
    lines.push(JSON.stringify(intent));
  }
  writeFileSync(path.join(args.out, 'intents.ndjson'), lines.join('\n') + '\n');
  writeFileSync(path.join(args.out, 'registered.txt'),
    keys.map((k) => `${k.toPublicKey().toString()} active`).join('\n') + '\n');
  writeFileSync(path.join(args.out, 'expected.json'), JSON.stringify({ accepted, rejected }));
  const withIndexKeys = lines.filter((l) => /"(7|royaltiesByYear|byTerritory|nested)"/.test(l)).length;
  console.log(`old clients: ${lines.length} intents (${Object.keys(accepted).length} valid, ` +
              `${Object.keys(rejected).length} tampered; ${withIndexKeys} with integer-like member names)`);
} else if (mode === 'check') {
  if (!args.dir) usage('--dir DIR is required');
  const dir = args.dir;
  const expected = JSON.parse(readFileSync(path.join(dir, 'expected.json'), 'utf8'));
  const lines = (f) => readFileSync(path.join(dir, f), 'utf8').split('\n').filter((l) => l.length > 0);
  const problems = [];
  // Published hashes, read from the transactions by @bsv/sdk.
  const published = new Map();
  for (const hex of lines('txs.ef')) {
    const tx = sdk.Transaction.fromHexEF(hex);
    for (const out of tx.outputs) {
      // The SDK keeps everything after a top-level OP_RETURN as one chunk:
      // the payload's single push (PUSHDATA1: 4c, length, bytes).
      const chunks = out.lockingScript.chunks;
      if (chunks.length !== 2 || chunks[0].op !== 0 || chunks[1].op !== 0x6a) continue;
      const tail = chunks[1].data ?? [];
      if (tail[0] !== 0x4c || tail.length !== 2 + tail[1]) {
        problems.push(`data output is not one PUSHDATA1 push: ${out.lockingScript.toHex()}`);
        continue;
      }
      const payload = JSON.parse(Buffer.from(tail.slice(2)).toString('utf8'));
      if (payload.p !== 'sl-drm' || payload.v !== 1) problems.push(`unexpected payload ${JSON.stringify(payload)}`);
      published.set(payload.hash, (published.get(payload.hash) ?? 0) + 1);
    }
  }
  for (const [recordId, hash] of Object.entries(expected.accepted)) {
    const n = published.get(hash) ?? 0;
    if (n !== 1) problems.push(`${recordId}: the hash it signed (${hash}) published ${n} times`);
    published.delete(hash);
  }
  for (const hash of published.keys()) problems.push(`published a hash no valid intent signed: ${hash}`);
  const reasons = new Map(lines('rejects.jsonl').map((l) => { const j = JSON.parse(l); return [j.recordId, j.reason]; }));
  for (const [recordId, reason] of Object.entries(expected.rejected)) {
    if (reasons.get(recordId) !== reason) problems.push(`${recordId}: rejected as ${reasons.get(recordId)}, want ${reason}`);
    reasons.delete(recordId);
  }
  for (const [recordId, reason] of reasons) problems.push(`${recordId}: rejected as ${reason}, but it is valid`);
  const summary = JSON.parse(readFileSync(path.join(dir, 'summary.json'), 'utf8'));
  if (summary.intents.accepted !== Object.keys(expected.accepted).length) {
    problems.push(`summary: accepted ${summary.intents.accepted}, want ${Object.keys(expected.accepted).length}`);
  }
  if (problems.length) {
    console.error(problems.slice(0, 10).join('\n'));
    console.error(`old clients: ${problems.length} problems`);
    process.exit(1);
  }
  console.log(`old clients: ${Object.keys(expected.accepted).length} published with the hash the client signed, ` +
              `${Object.keys(expected.rejected).length} tampered refused with the right reason`);
} else if (mode === 'post') {
  if (!args.url || !args.intents || !args.dir) usage('--url, --intents and --dir are required');
  const intents = readFileSync(args.intents, 'utf8').split('\n').filter((l) => l.length > 0);
  const expected = JSON.parse(readFileSync(path.join(path.dirname(args.intents), 'expected.json'), 'utf8'));
  const problems = [];
  const rejects = [];
  let next = 0;
  let accepted = 0;
  const worker = async () => {
    while (next < intents.length) {
      const line = intents[next++];
      const recordId = JSON.parse(line).record.recordId;
      const res = await fetch(`${args.url}/v1/publish`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: line
      });
      const body = await res.json();
      if (res.status === 202) {
        ++accepted;
        if (body.ok !== true || body.status !== 'queued' || body.recordId !== recordId ||
            body.hash !== expected.accepted[recordId] || typeof body.jobId !== 'string') {
          problems.push(`${recordId}: 202 ${JSON.stringify(body)}, want the hash ${expected.accepted[recordId]}`);
        }
      } else if (res.status === 400) {
        if (body.ok !== false || typeof body.error !== 'string' || typeof body.code !== 'string') {
          problems.push(`${recordId}: 400 without ok/error/code: ${JSON.stringify(body)}`);
        }
        rejects.push(JSON.stringify({ recordId, reason: body.code }));
      } else {
        problems.push(`${recordId}: HTTP ${res.status} ${JSON.stringify(body)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  writeFileSync(path.join(args.dir, 'rejects.jsonl'), rejects.join('\n') + (rejects.length ? '\n' : ''));
  if (problems.length) {
    console.error(problems.slice(0, 10).join('\n'));
    console.error(`old clients over HTTP: ${problems.length} problems`);
    process.exit(1);
  }
  console.log(`old clients over HTTP: ${accepted} answered 202, ${rejects.length} answered 400`);
} else {
  usage(`unknown mode '${mode}'`);
}
