#!/usr/bin/env python3
"""Independent Ed25519 signatures (OpenSSL, through the `cryptography` package) for the longer
messages in Tests/HEARCryptoTests/Ed25519Tests.swift: seed i is SHA-256("seed" ‖ i), the message
of length n has byte j = (13·j + n) mod 256."""
import hashlib
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization

for i, n in enumerate([1, 63, 64, 65, 127, 128, 1023, 4096]):
    seed = hashlib.sha256(b"seed" + bytes([i])).digest()
    key = Ed25519PrivateKey.from_private_bytes(seed)
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    message = bytes((13 * j + n) & 255 for j in range(n))
    print(f'("{seed.hex()}", "{public.hex()}", {n}, "{key.sign(message).hex()}"),')
