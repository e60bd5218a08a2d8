/// A 128-bit name for a public object (a parameter set, a model, a key set, a signing
/// identity): the first 16 bytes of a SHA-256 digest, shown as 32 lower-case hex digits.
///
/// 128 bits leave a 2^64 work factor against collisions and 2^128 against second preimages: two
/// different objects with the same fingerprint cannot be made on purpose, so a fingerprint both
/// names and protects (unlike the 64-bit FNV-1a it replaces, which only detects accidents).
public struct Fingerprint: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// Bytes of a fingerprint (the first 16 bytes of a SHA-256 digest).
    public static let byteCount = 16
    /// The 16 bytes.
    public let bytes: [UInt8]

    /// The first 16 bytes of `digest` (a SHA-256 digest of 32 bytes).
    public init(truncating digest: [UInt8]) {
        precondition(digest.count >= Self.byteCount, "a fingerprint takes 16 bytes of a digest")
        bytes = Array(digest.prefix(Self.byteCount))
    }

    /// Exactly 16 bytes (as read from a file), or nil.
    public init?(bytes: [UInt8]) {
        guard bytes.count == Self.byteCount else { return nil }
        self.bytes = bytes
    }

    /// 32 hexadecimal digits (either case), or nil.
    public init?(hex: String) {
        let digits = Array(hex.utf8)
        guard digits.count == 2 * Self.byteCount else { return nil }
        var bytes: [UInt8] = []
        for i in stride(from: 0, to: digits.count, by: 2) {
            guard let high = hexValue(digits[i]), let low = hexValue(digits[i + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        self.bytes = bytes
    }

    /// The fingerprint of `bytes`: SHA-256, truncated.
    public static func of<Bytes: Sequence>(_ bytes: Bytes) -> Fingerprint where Bytes.Element == UInt8 {
        Fingerprint(truncating: SHA256.hash(bytes))
    }

    /// The fingerprint in lowercase hexadecimal (32 characters).
    public var hex: String { hexString(bytes) }
    /// The hexadecimal form (`hex`).
    public var description: String { hex }

    /// Byte-wise lexicographic order, so that fingerprints sort the same everywhere.
    public static func < (a: Fingerprint, b: Fingerprint) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }
}

/// The value of one hexadecimal digit (ASCII), or nil.
@inline(__always) func hexValue(_ c: UInt8) -> UInt8? {
    switch c {
    case 48...57: return c - 48
    case 97...102: return c - 87
    case 65...70: return c - 55
    default: return nil
    }
}

/// Bytes from hexadecimal (an even number of digits), or nil.
public func bytes(fromHex text: String) -> [UInt8]? {
    let digits = Array(text.utf8)
    guard digits.count % 2 == 0 else { return nil }
    var out: [UInt8] = []
    out.reserveCapacity(digits.count / 2)
    for i in stride(from: 0, to: digits.count, by: 2) {
        guard let high = hexValue(digits[i]), let low = hexValue(digits[i + 1]) else { return nil }
        out.append(high << 4 | low)
    }
    return out
}

/// A fingerprint of structured data: a SHA-256 over a domain tag and typed fields, each field
/// encoded so that no two different field lists give the same byte stream (integers as 8 bytes
/// little-endian, strings and byte strings preceded by their length).
public struct FingerprintHasher {
    private var hasher = SHA256()

    /// `domain` names what is fingerprinted ("HEAR model 1"): fingerprints of different kinds of
    /// objects never coincide.
    public init(domain: String) { mix(domain) }

    /// Mixes a 64-bit word (little-endian bytes).
    public mutating func mix(_ word: UInt64) { withUnsafeBytes(of: word.littleEndian) { hasher.update($0) } }
    /// Mixes an integer as its 64-bit two's-complement word.
    public mutating func mix(_ value: Int) { mix(UInt64(bitPattern: Int64(value))) }
    /// Mixes a double by its IEEE 754 bit pattern (so −0 and 0 differ, and every NaN payload counts).
    public mutating func mix(_ value: Double) { mix(value.bitPattern) }
    /// Mixes a string: its UTF-8 length, then its bytes (so no two sequences of strings run together).
    public mutating func mix(_ text: String) {
        mix(UInt64(text.utf8.count))
        hasher.update(text.utf8)
    }
    /// Mixes bytes: their count, then the bytes.
    public mutating func mix(bytes: [UInt8]) {
        mix(UInt64(bytes.count))
        hasher.update(bytes)
    }
    /// Many doubles at once (a tensor), without the per-value call overhead.
    public mutating func mix(doubles: [Double]) {
        mix(UInt64(doubles.count))
        var buffer: [UInt8] = []
        buffer.reserveCapacity(8 * min(doubles.count, 8192))
        for (i, v) in doubles.enumerated() {
            withUnsafeBytes(of: v.bitPattern.littleEndian) { buffer += $0 }
            if buffer.count >= 8 * 8192 || i == doubles.count - 1 { hasher.update(buffer); buffer.removeAll(keepingCapacity: true) }
        }
    }

    /// The fingerprint of everything mixed so far.
    public mutating func finalize() -> Fingerprint { Fingerprint(truncating: hasher.finalize()) }
}
