// Independent check, by npm's @bsv/sdk, of the transactions the local
// ARC-compatible network accepted in a `raregen demo` run: the publications
// and the split transactions whose outputs they spend, as GET /admin/txs
// listed them (the demo saves that answer as <work-dir>/network_txs.json:
// {txs: [{txid, txStatus, blockHeight, acceptedMs, rawTx}]}, rawTx in
// standard hex). Nothing here trusts raregen's own code.
//
//   node network_accepted.mjs --sdk DIR --txs FILE [--sample N] [--expect N]
//                             [--corrupt-signature]
//
// A publication is a listed transaction with an OP_FALSE OP_RETURN output;
// every other listed transaction is a split. Each publication in the sample
// (N spread evenly over them, or all with --sample 0) must pass:
//   parse          Transaction.fromHex(rawTx) does not throw
//   txid           the SDK's txid of rawTx equals the listed txid
//   roundtrip      the SDK re-serializes its model to rawTx exactly
//   payload        one 0-satoshi data output whose one push is
//                  {"p":"sl-drm","v":1,"hash":"<64 hex>"}
//   shape          exactly one input
//   parent         the input's source transaction is listed too (a split),
//                  its SDK txid is the listed one, and it has that output
//   interpreter    Spend.validate() accepts input 0 against the parent's
//                  output (its satoshis and locking script)
//   fee            the parent output's satoshis >= the outputs' total
// Split transactions whose parent is listed (all but the first of a chain,
// which spends the unlisted funding transaction) get the same parent and
// interpreter checks: the UTXOs the publications spend were themselves
// spent correctly.
//
// --expect N fails unless exactly N publications are listed.
// --corrupt-signature proves the check can fail: one sampled publication has
// a bit of its signature flipped (and its listed txid recomputed, so only
// the interpreter can notice); exactly that one must fail, as [interpreter].
//
// Prints the first few failures, then `network_accepted: N passed, M failed`.
// Exit status: 0 if all passed, 1 if any failed, 2 on bad usage or input.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const k_show = 5;

function usage (msg) {
  if (msg) console.error(`network_accepted.mjs: ${msg}`);
  console.error('usage: node network_accepted.mjs --sdk DIR --txs FILE [--sample N] [--expect N] ' +
                '[--corrupt-signature]');
  process.exit(2);
}

function parseArgs (argv) {
  const args = { sample: 100, corrupt: false };
  for (let k = 0; k < argv.length; ++k) {
    const a = argv[k];
    const value = () => {
      if (k + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++k];
    };
    const whole = (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) usage(`${a} needs a whole number, got '${v}'`);
      return n;
    };
    if (a === '--sdk') args.sdk = value();
    else if (a === '--txs') args.txs = value();
    else if (a === '--sample') args.sample = whole(value());
    else if (a === '--expect') args.expect = whole(value());
    else if (a === '--corrupt-signature') args.corrupt = true;
    else usage(`unknown argument '${a}'`);
  }
  if (!args.sdk) usage('--sdk DIR is required');
  if (!args.txs) usage('--txs FILE is required');
  return args;
}

const args = parseArgs(process.argv.slice(2));
const sdkDir = path.resolve(args.sdk);
const sdkPackage = path.join(sdkDir, 'node_modules', '@bsv', 'sdk', 'package.json');
if (!existsSync(sdkPackage)) {
  console.error(`network_accepted.mjs: @bsv/sdk is not installed under ${sdkDir}/node_modules ` +
                '(ensure_bsv_sdk.sh installs it)');
  process.exit(2);
}
const require = createRequire(path.join(sdkDir, 'package.json'));
const { Transaction, Spend, Script } = require('@bsv/sdk');
const sdkVersion = JSON.parse(readFileSync(sdkPackage, 'utf8')).version;

class CheckFailure extends Error {
  constructor (check, message) {
    super(message);
    this.check = check;
  }
}
function fail (check, message) { throw new CheckFailure(check, message); }

function parse (rec, check) {
  if (typeof rec.rawTx !== 'string' || !/^([0-9a-f]{2})+$/i.test(rec.rawTx)) {
    fail(check, 'rawTx is not hex');
  }
  let tx;
  try {
    tx = Transaction.fromHex(rec.rawTx);
  } catch (e) {
    fail(check, `Transaction.fromHex threw: ${e.message}`);
  }
  if (tx.id('hex') !== rec.txid) fail('txid', `the SDK's txid is ${tx.id('hex')}, listed ${rec.txid}`);
  return tx;
}

function isData (out) {
  const s = out.lockingScript.toBinary();
  return s.length >= 2 && s[0] === 0x00 && s[1] === 0x6a;
}

// Input `index` of `tx` against its parent's output, by the SDK's interpreter.
function checkInput (tx, index, byTxid) {
  const input = tx.inputs[index];
  const parentRec = byTxid.get(input.sourceTXID);
  if (!parentRec) fail('parent', `input ${index} spends ${input.sourceTXID}, which the network does not list`);
  const parent = parse(parentRec, 'parent');
  const source = parent.outputs[input.sourceOutputIndex];
  if (!source) fail('parent', `${input.sourceTXID} has no output ${input.sourceOutputIndex}`);
  let ok;
  try {
    ok = new Spend({
      sourceTXID: input.sourceTXID,
      sourceOutputIndex: input.sourceOutputIndex,
      sourceSatoshis: source.satoshis,
      lockingScript: source.lockingScript,
      transactionVersion: tx.version,
      otherInputs: tx.inputs.filter((_, k) => k !== index),
      outputs: tx.outputs,
      inputIndex: index,
      unlockingScript: input.unlockingScript,
      inputSequence: input.sequence ?? 0xffffffff,
      lockTime: tx.lockTime
    }).validate();
  } catch (e) {
    fail('interpreter', `input ${index}: the script interpreter rejected it: ${e.message}`);
  }
  if (ok !== true) fail('interpreter', `input ${index}: the script interpreter returned ${ok}`);
  return source;
}

function checkPublication (rec, byTxid) {
  const tx = parse(rec, 'parse');
  const fresh = new Transaction(tx.version, tx.inputs, tx.outputs, tx.lockTime).toHex();
  if (fresh !== rec.rawTx.toLowerCase()) fail('roundtrip', 'the SDK re-serializes rawTx differently');
  const data = tx.outputs.filter(isData);
  if (data.length !== 1) fail('payload', `${data.length} data outputs, expected 1`);
  if (data[0].satoshis !== 0) fail('payload', `the data output holds ${data[0].satoshis} sat`);
  // The SDK keeps everything after a top-level OP_RETURN as one chunk:
  // parsed again, it must be one push.
  const chunks = data[0].lockingScript.chunks;
  let text = '';
  if (chunks.length === 2 && chunks[0].op === 0x00 && chunks[1].op === 0x6a) {
    const pushes = Script.fromBinary(Array.from(chunks[1].data ?? [])).chunks;
    if (pushes.length === 1 && pushes[0].op <= 0x4e && pushes[0].data) {
      text = Buffer.from(pushes[0].data).toString('utf8');
    }
  }
  if (!/^\{"p":"sl-drm","v":1,"hash":"[0-9a-f]{64}"\}$/.test(text)) {
    fail('payload', 'the data output is not one push of {"p":"sl-drm","v":1,"hash":"<64 hex>"}');
  }
  if (tx.inputs.length !== 1) fail('shape', `${tx.inputs.length} inputs, expected 1`);
  const source = checkInput(tx, 0, byTxid);
  const out = tx.outputs.reduce((sum, o) => sum + BigInt(o.satoshis), 0n);
  if (BigInt(source.satoshis) < out) fail('fee', `outputs (${out} sat) exceed the input (${source.satoshis} sat)`);
}

function checkSplit (rec, byTxid) {
  const tx = parse(rec, 'parse');
  let checked = 0;
  for (let k = 0; k < tx.inputs.length; ++k) {
    if (!byTxid.has(tx.inputs[k].sourceTXID)) continue;  // the funding transaction
    checkInput(tx, k, byTxid);
    ++checked;
  }
  return checked;
}

// A copy of `rec` with one bit of input 0's signature flipped and its txid
// recomputed (double SHA-256, byte-reversed), so only the interpreter can tell.
function corruptSignature (rec) {
  const raw = Buffer.from(rec.rawTx, 'hex');
  // version(4) | input count(1) | prev txid(32) | vout(4) | script length(1) |
  // push opcode(1) | DER 30 len 02 rlen r...: byte 10 of the script is in r.
  if (raw[4] !== 1) throw new Error('the corruption expects one input');
  raw[4 + 1 + 32 + 4 + 1 + 10] ^= 0x01;
  const sha = (b) => createHash('sha256').update(b).digest();
  return { ...rec, rawTx: raw.toString('hex'), txid: Buffer.from(sha(sha(raw))).reverse().toString('hex') };
}

function main () {
  let listed;
  try {
    listed = JSON.parse(readFileSync(args.txs, 'utf8')).txs;
  } catch (e) {
    console.error(`network_accepted.mjs: cannot read ${args.txs}: ${e.message}`);
    process.exit(2);
  }
  if (!Array.isArray(listed)) {
    console.error(`network_accepted.mjs: ${args.txs} has no "txs" array`);
    process.exit(2);
  }
  const started = process.hrtime.bigint();
  const byTxid = new Map();
  const publications = [];
  const splits = [];
  for (const rec of listed) {
    byTxid.set(rec.txid, rec);
    let isPublication = false;
    try {
      isPublication = Transaction.fromHex(rec.rawTx).outputs.some(isData);
    } catch (e) {
      // Unparseable: checked (and failed) as a publication below.
      isPublication = true;
    }
    (isPublication ? publications : splits).push(rec);
  }
  const want = args.sample === 0 ? publications.length : Math.min(args.sample, publications.length);
  const sample = [];
  for (let k = 0; k < want; ++k) sample.push(publications[Math.floor(k * publications.length / want)]);
  let corrupted = null;
  if (args.corrupt && sample.length > 0) {
    const at = Math.floor(sample.length / 2);
    sample[at] = corruptSignature(sample[at]);
    byTxid.set(sample[at].txid, sample[at]);
    corrupted = sample[at].txid;
  }
  console.log(`network_accepted: @bsv/sdk ${sdkVersion} on Node.js ${process.versions.node}: ` +
              `${listed.length} accepted transactions listed, ${publications.length} publications, ` +
              `${splits.length} splits; checking ${sample.length} publications` +
              (corrupted ? ` (one corrupted on purpose: ${corrupted})` : ''));

  let passed = 0;
  let failed = 0;
  const failures = [];
  const record = (label, fn) => {
    try {
      fn();
      ++passed;
    } catch (e) {
      ++failed;
      if (failures.length < k_show) {
        const check = e instanceof CheckFailure ? e.check : 'exception';
        failures.push(`FAIL [${check}] ${label}\n      ${e instanceof CheckFailure ? e.message : e.stack}`);
      }
    }
  };
  for (const rec of sample) record(`publication ${rec.txid}`, () => checkPublication(rec, byTxid));
  let splitInputs = 0;
  for (const rec of splits) record(`split ${rec.txid}`, () => { splitInputs += checkSplit(rec, byTxid); });

  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(`network_accepted: ${sample.length} publications and ${splits.length} splits checked ` +
              `(${splitInputs} split inputs spending a listed split), ${seconds.toFixed(1)} s`);
  for (const f of failures) console.log(f);
  if (failed > failures.length) console.log(`... and ${failed - failures.length} more failures`);
  if (publications.length === 0) {
    console.log('network_accepted: the network lists no publications');
    ++failed;
  }
  if (args.sample !== 0 && sample.length < args.sample) {
    console.log(`network_accepted: only ${sample.length} publications to check, the sample is ${args.sample}`);
    ++failed;
  }
  if (args.expect !== undefined && publications.length !== args.expect) {
    console.log(`network_accepted: ${publications.length} publications listed, expected ${args.expect}`);
    ++failed;
  }
  console.log(`network_accepted: ${passed} passed, ${failed} failed`);
  process.exitCode = failed === 0 ? 0 : 1;
}

main();
