import Testing
import HEARCrypto

@Suite("HMAC-SHA-256 (RFC 2104, RFC 4231)")
struct HMACTests {
    static func bytes(_ hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var i = hex.startIndex
        while i < hex.endIndex {
            let j = hex.index(i, offsetBy: 2)
            out.append(UInt8(hex[i..<j], radix: 16)!)
            i = j
        }
        return out
    }

    /// RFC 4231 §4.2–4.8 (test case 5 is truncated to 128 bits).
    @Test("RFC 4231 test cases 1–7", arguments: [
        ([UInt8](repeating: 0x0b, count: 20), Array("Hi There".utf8), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        (Array("Jefe".utf8), Array("what do ya want for nothing?".utf8), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        ([UInt8](repeating: 0xaa, count: 20), [UInt8](repeating: 0xdd, count: 50), "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
        (Array(1...25), [UInt8](repeating: 0xcd, count: 50), "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
        ([UInt8](repeating: 0x0c, count: 20), Array("Test With Truncation".utf8), "a3b6167473100ee06e0c796c2955552b"),
        ([UInt8](repeating: 0xaa, count: 131), Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
        ([UInt8](repeating: 0xaa, count: 131),
         Array("This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.".utf8),
         "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
    ])
    func rfc4231(key: [UInt8], data: [UInt8], expected: String) {
        let tag = HMACSHA256.authenticate(data, key: key)
        #expect(hexString(tag.prefix(expected.count / 2)) == expected)
        #expect(HMACSHA256.verify(tag, message: data, key: key))
        var forged = tag
        forged[31] ^= 1
        #expect(!HMACSHA256.verify(forged, message: data, key: key))
        #expect(!HMACSHA256.verify(Array(tag.prefix(16)), message: data, key: key))
    }

    @Test("constant-time comparison and wiping")
    func helpers() {
        #expect(constantTimeEqual([1, 2, 3], [1, 2, 3]) && !constantTimeEqual([1, 2, 3], [1, 2, 4]) && !constantTimeEqual([1], [1, 1]))
        var secret: [UInt8] = [9, 8, 7]
        wipe(&secret)
        #expect(secret.isEmpty)
    }
}
