/// HMAC-SHA-256 (RFC 2104, FIPS 198-1):
///     HMAC(K, m) = H((K' ⊕ opad) ‖ H((K' ⊕ ipad) ‖ m))
/// where K' is the key zero-padded to the 64-byte block (a longer key is hashed first),
/// ipad = 0x36…, opad = 0x5c…. The padded key copies are wiped after use.
public enum HMACSHA256 {
    /// SHA-256's block length B in bytes: the key is padded (or first hashed) to it.
    public static let blockByteCount = 64

    /// The 32-byte tag of `message` under `key`.
    public static func authenticate<Key: Collection, Message: Sequence>(_ message: Message, key: Key) -> [UInt8]
        where Key.Element == UInt8, Message.Element == UInt8 {
        var padded = key.count > blockByteCount ? SHA256.hash(key) : Array(key)
        padded += [UInt8](repeating: 0, count: blockByteCount - padded.count)
        var inner = padded.map { $0 ^ 0x36 }, outer = padded.map { $0 ^ 0x5c }
        defer {
            wipe(&padded)
            wipe(&inner)
            wipe(&outer)
        }
        var hasher = SHA256()
        hasher.update(inner)
        hasher.update(message)
        let innerDigest = hasher.finalize()
        var outerHasher = SHA256()
        outerHasher.update(outer)
        outerHasher.update(innerDigest)
        return outerHasher.finalize()
    }

    /// Whether `tag` is the tag of `message` under `key`, compared in constant time.
    public static func verify<Key: Collection, Message: Sequence>(_ tag: [UInt8], message: Message, key: Key) -> Bool
        where Key.Element == UInt8, Message.Element == UInt8 {
        constantTimeEqual(tag, authenticate(message, key: key))
    }
}

/// Whether two byte arrays are equal, in time that depends only on their lengths (every byte is
/// compared, the differences are OR-ed together, there is no early exit).
public func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var difference: UInt8 = 0
    for i in a.indices { difference |= a[i] ^ b[i] }
    return difference == 0
}
