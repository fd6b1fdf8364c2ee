// Independent check of transactions raregen wrote, by npm's @bsv/sdk: its
// parser, its serializer and its script interpreter (Spend). Nothing here
// trusts raregen's own code. Two input modes:
//
// 1. Generator lines (what run_crosscheck.sh feeds it):
//
//      node crosscheck.mjs --sdk DIR --jsonl FILE [--expect N]
//
//    FILE has one JSON object per line, written by raregen_crosscheck_gen:
//    {i, txid, raw_hex, ef_hex, prev_txid, prev_vout, prev_value,
//     prev_script_hex, fee_rate: {satoshis, bytes}, change, change_value,
//     payload_sizes, payload_sha256, raregen}. Each line must pass:
//      parse-raw / parse-ef  the SDK parses raw_hex / ef_hex without throwing
//      txid-raw      Transaction.fromHex(raw_hex).id('hex') == txid (fromHex
//                    hashes the bytes it was given, hence roundtrip-raw)
//      roundtrip-raw the SDK re-serializes its parsed model to raw_hex exactly
//      txid-ef       Transaction.fromHexEF(ef_hex).id('hex') == txid (the SDK
//                    re-serializes EF's model: EF is never hashed)
//      roundtrip-ef  toHexEF() of that model == ef_hex exactly
//      ef-source     the EF input's source txid, vout, satoshis and locking
//                    script equal prev_*
//      shape         version 1, lock time 0, one input spending prev_txid:prev_vout
//                    with sequence ffffffff, 1 output (2 with change)
//      data-output   output 0 holds 0 sat and OP_FALSE OP_RETURN followed by
//                    canonical pushes whose sizes and SHA-256 equal the payloads
//      change        output 1 pays change_value (>= 1 sat) to prev_script_hex
//      fee           fee >= max(1, ceil(raw size * rate)); with change, no more
//                    than the fee for 8 bytes more (the builder estimates a
//                    72-byte signature)
//      interpreter   Spend.validate() accepts the input of the fromHex model
//                    with prev_* as the spent output (txid-ef and ef-source
//                    make the EF's model the same, so it is not run twice;
//                    run_crosscheck.sh runs mode 2 on the same EF separately)
//    --expect N fails unless exactly N lines were read.
//
// 2. EF lines (for any transaction file the pipeline writes):
//
//      node crosscheck.mjs --sdk DIR --ef FILE [--min-fee-rate SATS/BYTES|none]
//
//    FILE has one transaction per line in Extended Format hex (BRC-30),
//    optionally preceded by its expected txid and a space or tab; blank lines
//    and lines starting with '#' are skipped. Each transaction must pass:
//      parse-ef / roundtrip-ef / txid-ef (if a txid was given)
//      interpreter   every input validates with Spend against the source
//                    output the EF carries
//      outputs       OP_FALSE OP_RETURN outputs hold 0 sat and only pushes;
//                    every other output holds >= 1 sat (no dust)
//      fee           inputs >= outputs, and fee >= max(1, ceil(raw size * rate))
//                    for --min-fee-rate (default 100/1000, "none" skips it)
//
//    The SDK's EF parser allocates an array of vout+1 entries per input, so
//    an input spending output index 2^27 or more needs gigabytes here; the
//    generator keeps indexes below 2^20.
//
// DIR is a folder whose node_modules holds @bsv/sdk (run_crosscheck.sh
// installs it). Prints the first few failures with details, then a last line
// `crosscheck: N passed, M failed`. Exit status: 0 if all passed, 1 if any
// failed, 2 on bad usage or unreadable input.
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import readline from 'node:readline';

const k_show = 5;       // failures printed in full
const k_hex_show = 80;  // hex characters shown of a long value

function usage (msg) {
  if (msg) console.error(`crosscheck.mjs: ${msg}`);
  console.error('usage: node crosscheck.mjs --sdk DIR --jsonl FILE [--expect N]\n' +
                '       node crosscheck.mjs --sdk DIR --ef FILE [--min-fee-rate SATS/BYTES|none]');
  process.exit(2);
}

function parseArgs (argv) {
  const args = { minFeeRate: { satoshis: 100, bytes: 1000 } };
  for (let k = 0; k < argv.length; ++k) {
    const a = argv[k];
    const value = () => {
      if (k + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++k];
    };
    if (a === '--sdk') args.sdk = value();
    else if (a === '--jsonl') args.jsonl = value();
    else if (a === '--ef') args.ef = value();
    else if (a === '--expect') {
      args.expect = Number(value());
      if (!Number.isInteger(args.expect) || args.expect < 0) usage('--expect needs a whole number');
    } else if (a === '--min-fee-rate') {
      const v = value();
      if (v === 'none') args.minFeeRate = null;
      else {
        const m = /^(\d+)\/(\d+)$/.exec(v);
        if (!m || Number(m[2]) === 0) usage(`--min-fee-rate '${v}' is not SATS/BYTES with BYTES > 0, or none`);
        args.minFeeRate = { satoshis: Number(m[1]), bytes: Number(m[2]) };
      }
    } else usage(`unknown argument '${a}'`);
  }
  if (!args.sdk) usage('--sdk DIR is required');
  if (!!args.jsonl === !!args.ef) usage('give exactly one of --jsonl FILE and --ef FILE');
  return args;
}

const args = parseArgs(process.argv.slice(2));
const sdkDir = path.resolve(args.sdk);
const sdkPackage = path.join(sdkDir, 'node_modules', '@bsv', 'sdk', 'package.json');
if (!existsSync(sdkPackage)) {
  console.error(`crosscheck.mjs: @bsv/sdk is not installed under ${sdkDir}/node_modules: ` +
                `run 'npm install @bsv/sdk@1' there (run_crosscheck.sh does)`);
  process.exit(2);
}
const require = createRequire(path.join(sdkDir, 'package.json'));
const sdk = require('@bsv/sdk');
// Read directly: the package's "exports" do not list package.json.
const sdkVersion = JSON.parse(readFileSync(sdkPackage, 'utf8')).version;
const { Transaction, Spend, Script } = sdk;

// ---- helpers ---------------------------------------------------------------

class CheckFailure extends Error {
  constructor (check, message) {
    super(message);
    this.check = check;
  }
}
function fail (check, message) { throw new CheckFailure(check, message); }
function expectEq (check, what, got, want) {
  if (got !== want) fail(check, `${what}: SDK has ${short(got)}, expected ${short(want)}`);
}
function short (v) {
  const s = String(v);
  return s.length > k_hex_show ? `${s.slice(0, k_hex_show)}... (${s.length} chars)` : s;
}
function sha256Hex (bytes) {
  return createHash('sha256').update(Uint8Array.from(bytes)).digest('hex');
}
function hexOf (bytes) { return Buffer.from(bytes).toString('hex'); }
function feeFor (rate, size) {
  // max(1, ceil(size * satoshis / bytes)); BigInt keeps large products exact.
  const f = (BigInt(size) * BigInt(rate.satoshis) + BigInt(rate.bytes) - 1n) / BigInt(rate.bytes);
  return f < 1n ? 1n : f;
}
function rawSize (tx) {
  // A fresh model without caches, so this is the SDK's own serialization.
  return new Transaction(tx.version, tx.inputs, tx.outputs, tx.lockTime).toBinary().length;
}

// Expected push opcode for a canonical push of `len` bytes (protocol.md §1).
function pushOp (len) {
  if (len === 0) return 0x00;
  if (len <= 75) return len;
  if (len <= 0xff) return 0x4c;
  if (len <= 0xffff) return 0x4d;
  return 0x4e;
}

// The pushes of an OP_FALSE OP_RETURN script, as the SDK parses them. The SDK
// keeps everything after a top-level OP_RETURN as one chunk; that tail is
// parsed again as a script, which must be canonical pushes only and must
// re-serialize to the same bytes (so nothing was truncated or skipped).
function dataPushes (lockingScript, check) {
  const chunks = lockingScript.chunks;
  if (chunks.length < 2 || chunks[0].op !== 0x00 || chunks[1].op !== 0x6a) {
    fail(check, `script does not start with OP_FALSE OP_RETURN: ${short(lockingScript.toHex())}`);
  }
  if (chunks.length !== 2) fail(check, `${chunks.length} chunks; expected OP_FALSE then OP_RETURN holding the rest`);
  const tail = chunks[1].data ?? [];
  const tailScript = Script.fromBinary(Array.from(tail));
  if (tailScript.toHex() !== hexOf(tail)) {
    fail(check, 'the pushes after OP_RETURN do not re-serialize to the same bytes (truncated or malformed push)');
  }
  const pushes = [];
  for (const [k, c] of tailScript.chunks.entries()) {
    const data = c.data ?? [];
    if (c.op > 0x4e) fail(check, `item ${k} after OP_RETURN is opcode 0x${c.op.toString(16)}, not a push`);
    if (c.op !== pushOp(data.length)) {
      fail(check, `push ${k} of ${data.length} bytes uses opcode 0x${c.op.toString(16)}; ` +
                  `canonical is 0x${pushOp(data.length).toString(16)}`);
    }
    pushes.push(data);
  }
  return pushes;
}

// Runs the SDK interpreter on input `index` of `tx` spending `source`
// ({satoshis, lockingScript}).
function validateInput (tx, index, source, check) {
  const input = tx.inputs[index];
  let ok;
  try {
    const spend = new Spend({
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
    });
    ok = spend.validate();
  } catch (e) {
    fail(check, `input ${index}: script interpreter rejected it: ${e.message}`);
  }
  if (ok !== true) fail(check, `input ${index}: script interpreter returned ${ok}`);
}

// ---- mode 2: one EF transaction ---------------------------------------------

// Returns the SDK's model of the transaction; throws CheckFailure.
// `seen.txid` is set as soon as the SDK has computed it, for failure messages.
function checkEf (efHex, { expectedTxid, minFeeRate, seen = {} }) {
  let tx;
  try {
    tx = Transaction.fromHexEF(efHex);
  } catch (e) {
    fail('parse-ef', `Transaction.fromHexEF threw: ${e.message}`);
  }
  expectEq('roundtrip-ef', 'toHexEF() of the parsed EF', tx.toHexEF(), efHex);
  const id = tx.id('hex');
  seen.txid = id;
  if (expectedTxid !== undefined) expectEq('txid-ef', 'txid of the EF', id, expectedTxid);
  if (tx.inputs.length === 0) fail('outputs', 'no inputs');
  if (tx.outputs.length === 0) fail('outputs', 'no outputs');

  let inTotal = 0n;
  for (let k = 0; k < tx.inputs.length; ++k) {
    const input = tx.inputs[k];
    const source = input.sourceTransaction?.outputs?.[input.sourceOutputIndex];
    if (!source) fail('parse-ef', `input ${k} carries no source output`);
    inTotal += BigInt(source.satoshis);
    validateInput(tx, k, source, 'interpreter');
  }
  let outTotal = 0n;
  for (const [k, out] of tx.outputs.entries()) {
    const script = out.lockingScript.toBinary();
    if (script.length >= 2 && script[0] === 0x00 && script[1] === 0x6a) {
      if (out.satoshis !== 0) fail('outputs', `data output ${k} holds ${out.satoshis} sat; must be 0`);
      dataPushes(out.lockingScript, 'outputs');
    } else if (!(out.satoshis >= 1)) {
      fail('outputs', `output ${k} holds ${out.satoshis} sat: spendable outputs need at least 1`);
    }
    outTotal += BigInt(out.satoshis);
  }
  if (inTotal < outTotal) fail('fee', `outputs (${outTotal} sat) exceed inputs (${inTotal} sat)`);
  if (minFeeRate) {
    const size = rawSize(tx);
    const need = feeFor(minFeeRate, size);
    if (inTotal - outTotal < need) {
      fail('fee', `fee ${inTotal - outTotal} sat < ${need} sat required for ${size} bytes ` +
                              `at ${minFeeRate.satoshis}/${minFeeRate.bytes}`);
    }
  }
  return tx;
}

// ---- mode 1: one generator line ---------------------------------------------

function checkGenerated (rec) {
  // Raw: the txid the SDK hashes, and the SDK's own serialization of its model.
  let raw;
  try {
    raw = Transaction.fromHex(rec.raw_hex);
  } catch (e) {
    fail('parse-raw', `Transaction.fromHex threw: ${e.message}`);
  }
  expectEq('txid-raw', 'txid of raw_hex', raw.id('hex'), rec.txid);
  const reserialized = new Transaction(raw.version, raw.inputs, raw.outputs, raw.lockTime).toHex();
  expectEq('roundtrip-raw', 'SDK re-serialization of raw_hex', reserialized, rec.raw_hex);

  // EF: parsed, re-serialized and hashed by the SDK.
  let ef;
  try {
    ef = Transaction.fromHexEF(rec.ef_hex);
  } catch (e) {
    fail('parse-ef', `Transaction.fromHexEF threw: ${e.message}`);
  }
  expectEq('txid-ef', 'txid of ef_hex', ef.id('hex'), rec.txid);
  expectEq('roundtrip-ef', 'toHexEF() of the parsed EF', ef.toHexEF(), rec.ef_hex);
  const efIn = ef.inputs[0];
  const efSource = efIn?.sourceTransaction?.outputs?.[efIn.sourceOutputIndex];
  if (!efSource) fail('ef-source', 'EF input 0 carries no source output');
  expectEq('ef-source', 'EF source txid', efIn.sourceTXID, rec.prev_txid);
  expectEq('ef-source', 'EF source vout', efIn.sourceOutputIndex, rec.prev_vout);
  expectEq('ef-source', 'EF source satoshis', efSource.satoshis, rec.prev_value);
  expectEq('ef-source', 'EF source locking script', efSource.lockingScript.toHex(), rec.prev_script_hex);

  // Shape.
  expectEq('shape', 'version', raw.version, 1);
  expectEq('shape', 'lock time', raw.lockTime, 0);
  expectEq('shape', 'input count', raw.inputs.length, 1);
  expectEq('shape', 'output count', raw.outputs.length, rec.change ? 2 : 1);
  const input = raw.inputs[0];
  expectEq('shape', 'spent txid', input.sourceTXID, rec.prev_txid);
  expectEq('shape', 'spent vout', input.sourceOutputIndex, rec.prev_vout);
  expectEq('shape', 'sequence', input.sequence, 0xffffffff);

  // Data output.
  const data = raw.outputs[0];
  expectEq('data-output', 'data output satoshis', data.satoshis, 0);
  const pushes = dataPushes(data.lockingScript, 'data-output');
  expectEq('data-output', 'push count', pushes.length, rec.payload_sizes.length);
  for (const [k, p] of pushes.entries()) {
    expectEq('data-output', `push ${k} size`, p.length, rec.payload_sizes[k]);
    expectEq('data-output', `push ${k} sha256`, sha256Hex(p), rec.payload_sha256[k]);
  }
  if (rec.raregen) {
    const text = Buffer.from(pushes[0]).toString('utf8');
    if (!/^\{"p":"sl-drm","v":1,"hash":"[0-9a-f]{64}"\}$/.test(text)) {
      fail('data-output', `RareGen payload is not {"p":"sl-drm","v":1,"hash":"<64 hex>"}: ${short(text)}`);
    }
  }

  // Change.
  let outTotal = 0n;
  for (const o of raw.outputs) outTotal += BigInt(o.satoshis);
  if (rec.change) {
    const change = raw.outputs[1];
    expectEq('change', 'change satoshis', change.satoshis, rec.change_value);
    if (!(change.satoshis >= 1)) fail('change', `change of ${change.satoshis} sat is dust`);
    expectEq('change', 'change locking script', change.lockingScript.toHex(), rec.prev_script_hex);
  }

  // Fee, on the standard size.
  const fee = BigInt(rec.prev_value) - outTotal;
  const size = rec.raw_hex.length / 2;
  const need = feeFor(rec.fee_rate, size);
  if (fee < need) {
    fail('fee', `fee ${fee} sat < ${need} sat required for ${size} bytes at ` +
                `${rec.fee_rate.satoshis}/${rec.fee_rate.bytes}`);
  }
  if (rec.change && fee > feeFor(rec.fee_rate, size + 8)) {
    fail('fee', `fee ${fee} sat with change is more than the ${feeFor(rec.fee_rate, size + 8)} sat ` +
                `for ${size + 8} bytes: change is short`);
  }

  // The interpreter, on the raw model with the spent output as the generator stated it.
  validateInput(raw, 0, {
    satoshis: rec.prev_value,
    lockingScript: sdk.LockingScript.fromHex(rec.prev_script_hex)
  }, 'interpreter');

}

// ---- driver -----------------------------------------------------------------

async function main () {
  const file = args.jsonl ?? args.ef;
  if (!existsSync(file)) {
    console.error(`crosscheck.mjs: input file ${file} does not exist`);
    process.exit(2);
  }
  const started = process.hrtime.bigint();
  const mode = args.jsonl ? 'jsonl' : 'ef';
  console.log(`crosscheck: @bsv/sdk ${sdkVersion} on Node.js ${process.versions.node}, mode ${mode}, ${file}`);

  let passed = 0;
  let failed = 0;
  const failures = [];
  const stats = { change: 0, large: 0, raregen: 0, payloadBytes: 0, maxPayload: 0, rawBytes: 0 };
  const lines = readline.createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  let lineNo = 0;
  let records = 0;
  for await (const line of lines) {
    ++lineNo;
    const text = line.trim();
    if (text === '' || (mode === 'ef' && text.startsWith('#'))) continue;
    ++records;
    let label = `line ${lineNo}`;
    try {
      if (mode === 'jsonl') {
        let rec;
        try {
          rec = JSON.parse(text);
        } catch (e) {
          fail('input', `not JSON: ${e.message}`);
        }
        label += ` (i=${rec.i}, txid ${rec.txid}, payloads [${rec.payload_sizes.join(',')}], ` +
                 `change ${rec.change}, fee rate ${rec.fee_rate.satoshis}/${rec.fee_rate.bytes})`;
        checkGenerated(rec);
        const total = rec.payload_sizes.reduce((a, b) => a + b, 0);
        stats.payloadBytes += total;
        stats.maxPayload = Math.max(stats.maxPayload, total);
        stats.rawBytes += rec.raw_hex.length / 2;
        if (total >= 10000) ++stats.large;
        if (rec.change) ++stats.change;
        if (rec.raregen) ++stats.raregen;
      } else {
        const fields = text.split(/[ \t]+/);
        if (fields.length > 2) fail('input', 'expected "EFHEX" or "TXID EFHEX"');
        const efHex = fields[fields.length - 1].toLowerCase();
        const expectedTxid = fields.length === 2 ? fields[0].toLowerCase() : undefined;
        if (expectedTxid) label += ` (txid ${expectedTxid})`;
        const seen = {};
        try {
          checkEf(efHex, { expectedTxid, minFeeRate: args.minFeeRate, seen });
        } finally {
          if (!expectedTxid && seen.txid) label += ` (txid ${seen.txid})`;
        }
      }
      ++passed;
    } catch (e) {
      ++failed;
      if (failures.length < k_show) {
        const check = e instanceof CheckFailure ? e.check : 'exception';
        failures.push(`FAIL [${check}] ${label}\n      ${e instanceof CheckFailure ? e.message : e.stack}`);
      }
    }
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (mode === 'jsonl') {
    console.log(`crosscheck: ${records} transactions, ${stats.change} with change, ${stats.raregen} RareGen ` +
                `payloads, ${stats.large} with 10,000+ payload bytes (largest ${stats.maxPayload}), ` +
                `${stats.payloadBytes} payload bytes, ${stats.rawBytes} raw bytes, ${seconds.toFixed(1)} s`);
  } else {
    console.log(`crosscheck: ${records} transactions, ${seconds.toFixed(1)} s`);
  }
  for (const f of failures) console.log(f);
  if (failed > failures.length) console.log(`... and ${failed - failures.length} more failures`);
  if (records === 0) {
    console.log(`crosscheck: ${file} holds no transactions`);
    ++failed;
  }
  if (args.expect !== undefined && records !== args.expect) {
    console.log(`crosscheck: read ${records} transactions, expected ${args.expect} (truncated input?)`);
    ++failed;
  }
  console.log(`crosscheck: ${passed} passed, ${failed} failed`);
  process.exitCode = failed === 0 ? 0 : 1;
}

main().catch(e => {
  console.error(`crosscheck.mjs: ${e.stack}`);
  process.exit(2);
});
