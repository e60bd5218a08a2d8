#!/usr/bin/env python3
"""Independent check of the ChaCha20 known answers used in Tests/HERingTests/RandomTests.swift.

Uses the `cryptography` package (OpenSSL's ChaCha20), whose 16-byte nonce is the 4-byte
little-endian block counter followed by the RFC 8439 12-byte nonce.
"""
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

def stream(key, nonce, counter, length):
    c = Cipher(algorithms.ChaCha20(key, counter.to_bytes(4, "little") + nonce), mode=None).encryptor()
    return c.update(bytes(length))

key = bytes(range(32))
# RFC 8439 §2.3.2: block function
print("block:", stream(key, bytes.fromhex("000000090000004a00000000"), 1, 64).hex())
# RFC 8439 §2.4.2: encryption of the "sunscreen" plaintext
msg = (b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the "
       b"future, sunscreen would be it.")
ks = stream(key, bytes.fromhex("000000000000004a00000000"), 1, len(msg))
print("sunscreen:", bytes(a ^ b for a, b in zip(msg, ks)).hex())
# Seed expansion: key = 32 × 0x42, domain 7 as the little-endian first 8 nonce bytes, counter 0
print("seed:", stream(bytes([0x42] * 32), (7).to_bytes(8, "little") + bytes(4), 0, 32).hex())
