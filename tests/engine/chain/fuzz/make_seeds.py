#!/usr/bin/env python3
"""Writes the seed corpus for raregen_chain_fuzz into a directory.

Seeds come from the reference vectors in tests/data, so nothing generated is
committed: the signed/unsigned P2PKH spend (standard and EF), a sample of the
BIP143 sighash transactions (standard and an EF form with made-up spent
outputs), a publication-shaped transaction, and short texts for the text
parsers (WIFs, an address, an outpoint, fee rates).

usage: make_seeds.py TESTDATA_DIR OUT_DIR [--every N]
"""
import argparse
import hashlib
import json
import os
import struct
import sys

EF_MARKER = bytes([0, 0, 0, 0, 0, 0xEF])
B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def compact_size(n):
    if n < 0xFD:
        return bytes([n])
    if n <= 0xFFFF:
        return b"\xfd" + struct.pack("<H", n)
    if n <= 0xFFFFFFFF:
        return b"\xfe" + struct.pack("<I", n)
    return b"\xff" + struct.pack("<Q", n)


def read_compact_size(b, i):
    first = b[i]
    if first < 0xFD:
        return first, i + 1
    width = {0xFD: 2, 0xFE: 4, 0xFF: 8}[first]
    return int.from_bytes(b[i + 1:i + 1 + width], "little"), i + 1 + width


def to_ef(raw, prev_script, amount):
    """The EF form of a standard transaction, every input spending
    (amount, prev_script)."""
    out = bytearray(raw[:4]) + EF_MARKER
    i = 4
    n_in, j = read_compact_size(raw, i)
    out += raw[i:j]
    i = j
    for _ in range(n_in):
        start = i
        i += 36
        n, i = read_compact_size(raw, i)
        i += n + 4
        out += raw[start:i]
        out += struct.pack("<q", amount) + compact_size(len(prev_script)) + prev_script
    out += raw[i:]
    return bytes(out)


def base58check(payload):
    data = payload + hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    n = int.from_bytes(data, "big")
    s = ""
    while n:
        n, r = divmod(n, 58)
        s = B58[r] + s
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + s


def publication_tx():
    """Unsigned shape of a RareGen publication: P2PKH input with a
    placeholder unlocking script, OP_FALSE OP_RETURN payload, change."""
    payload = b'{"p":"sl-drm","v":1,"hash":"' + b"ab" * 32 + b'"}'
    data_script = b"\x00\x6a" + bytes([len(payload)]) + payload
    lock = bytes.fromhex("76a914") + b"\x11" * 20 + bytes.fromhex("88ac")
    unlock = bytes([72]) + b"\x30" * 71 + b"\x41" + bytes([33]) + b"\x02" * 33
    tx = struct.pack("<i", 1) + b"\x01" + b"\x5a" * 32 + struct.pack("<I", 2)
    tx += compact_size(len(unlock)) + unlock + b"\xff\xff\xff\xff"
    tx += b"\x02" + struct.pack("<q", 0) + compact_size(len(data_script)) + data_script
    tx += struct.pack("<q", 70) + compact_size(len(lock)) + lock
    tx += b"\x00\x00\x00\x00"
    return tx, lock


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("testdata")
    ap.add_argument("out")
    ap.add_argument("--every", type=int, default=10, help="take every Nth BIP143 vector")
    args = ap.parse_args()

    with open(os.path.join(args.testdata, "vectors.json")) as f:
        vectors = json.load(f)
    with open(os.path.join(args.testdata, "sighash_bip143.json")) as f:
        bip143 = [e for e in json.load(f) if len(e) == 5]

    seeds = []
    spend = vectors["p2pkh_spend_forkid"]
    lock = bytes.fromhex(spend["spent_output"]["locking_script"])
    amount = spend["spent_output"]["satoshis"]
    for key in ("signed_tx", "unsigned_tx"):
        raw = bytes.fromhex(spend[key])
        seeds += [raw, to_ef(raw, lock, amount)]
    for raw_hex, script_hex, _index, _type, _digest in bip143[:: args.every]:
        raw = bytes.fromhex(raw_hex)
        seeds += [raw, to_ef(raw, bytes.fromhex(script_hex), 1000)]
    pub, pub_lock = publication_tx()
    seeds += [pub, to_ef(pub, pub_lock, 100)]

    texts = [case["wif"] for case in vectors["rfc6979_low_s_der"]["cases"]]
    texts += [
        spend["wif"],
        base58check(b"\x6f" + bytes.fromhex(spend["pubkey_hash160"])),
        spend["txid"] + ":0",
        spend["txid"] + ":4294967295",
        "100/1000",
        "50",
        spend["sighash_internal"],
        vectors["op_return_example"]["locking_script"],
    ]
    seeds += [t.encode() for t in texts]

    os.makedirs(args.out, exist_ok=True)
    for seed in seeds:
        name = hashlib.sha1(seed).hexdigest()  # libFuzzer's own naming
        with open(os.path.join(args.out, name), "wb") as f:
            f.write(seed)
    print(f"make_seeds.py: {len(set(seeds))} seeds in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
