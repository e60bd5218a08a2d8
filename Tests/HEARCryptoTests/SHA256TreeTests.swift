import Testing
import HEARCrypto

@Suite("SHA-256 tree hash of large files")
struct SHA256TreeTests {
    /// The message of `Tests/Scripts/sha256_tree_kat.py`: byte j = (j · 2654435761 >> 13) mod 256.
    static func message(_ n: Int) -> [UInt8] {
        (0..<n).map { UInt8(truncatingIfNeeded: (UInt64($0) &* 2_654_435_761) >> 13) }
    }

    /// The definition, with the one-block-at-a-time SHA-256 only.
    static func definition(_ m: [UInt8]) -> [UInt8] {
        var leaves: [UInt8] = []
        var start = 0
        while start < m.count {
            leaves += SHA256.hash(m[start..<min(m.count, start + SHA256Tree.chunkSize)])
            start += SHA256Tree.chunkSize
        }
        var length = UInt64(m.count).littleEndian
        let lengthBytes = withUnsafeBytes(of: &length) { Array($0) }
        return SHA256.hash(Array("HEAR-SHA256-TREE-1".utf8) + lengthBytes + leaves)
    }

    /// Digests from hashlib (Tests/Scripts/sha256_tree_kat.py): empty, one byte, around one
    /// chunk, exactly one group of sixteen lanes, two groups and a remainder.
    @Test("known answers from Python's hashlib, with 1 and 3 threads", arguments: [
        (0, "609363d97953b3c32a270bf4b4d894809caecbd5d16df247c7ffae9b004b8323"),
        (1, "65c4230e067e7a0bc9e886891ce1a8aba4ac13a6a5f460f334d0412d87c1aa7f"),
        (65535, "a1eea310fc7fc6c90f00293638f1e3c4b9765cbad09972d782e57aa33f863186"),
        (65536, "7a682959fe3898ae8e752b53a8ba52fee003cb1c35a3003f9e70c743da5c61f9"),
        (65537, "a1b5c99e3c922b3d35119752233b23d7c830ceabff3ea83dae2acc5cdaad74eb"),
        (1048576, "f1b18f1fdab0fa5051d9105ee2ee9ee80895a95d0839e85f9c672501cae07907"),
        (2162788, "e8b2bb8479162b36a2339ee8638688eb22d6c29e3ab1cb16673ba1084e8aff15"),
    ])
    func knownAnswers(length: Int, expected: String) {
        let m = Self.message(length)
        #expect(hexString(SHA256Tree.hash(m)) == expected)
        #expect(hexString(SHA256Tree.hash(m, concurrency: 3)) == expected)
    }

    @Test("every lane of the vector compression is its own chunk: a flipped byte in any chunk changes the digest")
    func everyLaneMatters() {
        var m = Self.message(16 * SHA256Tree.chunkSize)
        let reference = SHA256Tree.hash(m)
        #expect(reference == Self.definition(m))
        for lane in [0, 5, 15] {
            m[lane * SHA256Tree.chunkSize + 777] ^= 1
            #expect(SHA256Tree.hash(m) == Self.definition(m))
            #expect(SHA256Tree.hash(m) != reference)
            m[lane * SHA256Tree.chunkSize + 777] ^= 1
        }
    }
}
