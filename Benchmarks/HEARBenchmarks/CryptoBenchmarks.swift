import Foundation
import HEARCrypto

/// The classical primitives: hashing throughput (MB/s over 100 MB, the size of a set of
/// evaluation keys), HMAC, and Ed25519 key derivation, signing and verification (one thread,
/// thread CPU time).
func benchmarkCrypto() {
    let size = 100_000_000
    let data = [UInt8]((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 13) })
    for (name, hash) in [("sha256_100MB", { _ = SHA256.hash(data) }), ("sha512_100MB", { _ = SHA512.hash(data) })] as [(String, () -> Void)] {
        let r = measure(runs: 3, warmup: 1, hash)
        emit([("op", name), ("median_us", r.median), ("min_us", r.min), ("MB_per_s", Double(size) / r.min)])
    }
    benchmarkTreeHash(data)
    let key = [UInt8](repeating: 0x5c, count: 32), message = [UInt8](repeating: 1, count: 1024)
    var r = measure(runs: 1001) { _ = HMACSHA256.authenticate(message, key: key) }
    emit([("op", "hmac_sha256_1kB"), ("median_us", r.median), ("min_us", r.min)])
    let seed = [UInt8](repeating: 7, count: 32)
    r = measure(runs: 51) { _ = Ed25519.SigningKey(seed: seed) }
    emit([("op", "ed25519_keygen"), ("median_us", r.median), ("min_us", r.min)])
    let signer = Ed25519.SigningKey(seed: seed)
    let digest = SHA256.hash(message)
    r = measure(runs: 51) { _ = signer.signature(for: digest) }
    emit([("op", "ed25519_sign_32B"), ("median_us", r.median), ("min_us", r.min)])
    let signature = signer.signature(for: digest)
    r = measure(runs: 51) { _ = Ed25519.isValidSignature(signature, of: digest, publicKey: signer.publicKey) }
    emit([("op", "ed25519_verify_32B"), ("median_us", r.median), ("min_us", r.min)])
}

/// The tree hash of the party files (`SHA256Tree`), one thread and two.
func benchmarkTreeHash(_ data: [UInt8]) {
    for threads in [1, 2] {
        let r = measure(runs: 5, warmup: 1) { _ = SHA256Tree.hash(data, concurrency: threads) }
        emit([("op", "sha256_tree_100MB_\(threads)t"), ("median_us", r.median), ("min_us", r.min), ("MB_per_s", Double(data.count) / r.min)])
    }
}
