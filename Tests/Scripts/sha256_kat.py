#!/usr/bin/env python3
"""Independent check of the SHA-256 padding-boundary vectors in Tests/HEARCryptoTests/SHA256Tests.swift.

Uses Python's hashlib (OpenSSL). Message of length n: byte i is (7·i + 3) mod 256.
"""
import hashlib

for n in [55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 1000]:
    msg = bytes((i * 7 + 3) & 255 for i in range(n))
    print(n, hashlib.sha256(msg).hexdigest())

# SHA-512, the same messages (Tests/HEARCryptoTests/SHA512Tests.swift)
for n in [111, 112, 113, 127, 128, 129, 239, 240, 255, 256, 1000]:
    msg = bytes((i * 7 + 3) & 255 for i in range(n))
    print("sha512", n, hashlib.sha512(msg).hexdigest())
