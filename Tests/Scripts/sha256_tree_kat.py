#!/usr/bin/env python3
"""Known answers for SHA256Tree (Sources/HEARCrypto/SHA256Tree.swift), from its definition with
Python's hashlib: leaf_i = SHA-256(64 KiB chunk i), root = SHA-256("HEAR-SHA256-TREE-1" ||
u64le(length) || leaves). The message bytes: byte j = (j * 2654435761 >> 13) mod 256 (64-bit)."""
import hashlib, struct

def message(n):
    return bytes(((j * 2654435761) % 2**64 >> 13) & 0xff for j in range(n))

def tree(m):
    c = 65536
    leaves = b"".join(hashlib.sha256(m[i:i + c]).digest() for i in range(0, len(m), c))
    return hashlib.sha256(b"HEAR-SHA256-TREE-1" + struct.pack("<Q", len(m)) + leaves).hexdigest()

for n in [0, 1, 65535, 65536, 65537, 16 * 65536, 33 * 65536 + 100]:
    print(f"({n}, \"{tree(message(n))}\"),")
