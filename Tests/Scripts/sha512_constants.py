#!/usr/bin/env python3
"""Derives the SHA-512 constants of FIPS 180-4 from their definition, with exact integer roots:
K_t = first 64 bits of the fractional part of the cube root of the t-th prime (t < 80),
H_i = first 64 bits of the fractional part of the square root of the i-th prime (i < 8).
Prints them in the order of Sources/HEARCrypto/SHA512.swift."""

def primes(n):
    found, k = [], 2
    while len(found) < n:
        if all(k % p for p in found if p * p <= k):
            found.append(k)
        k += 1
    return found

def iroot(x, r):
    lo, hi = 0, 1
    while hi ** r <= x:
        hi *= 2
    while lo < hi - 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if mid ** r <= x else (lo, mid)
    return lo

print("K:", ", ".join("0x%016x" % (iroot(p << 192, 3) & (2**64 - 1)) for p in primes(80)))
print("H:", ", ".join("0x%016x" % (iroot(p << 128, 2) & (2**64 - 1)) for p in primes(8)))
