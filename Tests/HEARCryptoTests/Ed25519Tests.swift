import Testing
import HEARCrypto

@Suite("Ed25519 (RFC 8032)")
struct Ed25519Tests {
    static func bytes(_ hex: String) -> [UInt8] { HMACTests.bytes(hex) }

    /// RFC 8032 §7.1: TEST 1, 2, 3 and SHA(abc) (whose message is SHA-512("abc")).
    @Test("RFC 8032 §7.1 test vectors: public keys and signatures byte for byte, and they verify", arguments: [
        ("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
         "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
        ("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb", "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
         "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
        ("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7", "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
         "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"),
        ("833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42", "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
         "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
         "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704"),
    ])
    func rfc8032(seed: String, publicKey: String, message: String, signature: String) {
        let key = Ed25519.SigningKey(seed: Self.bytes(seed))
        #expect(hexString(key.publicKey) == publicKey)
        let m = Self.bytes(message)
        #expect(hexString(key.signature(for: m)) == signature)
        #expect(Ed25519.isValidSignature(Self.bytes(signature), of: m, publicKey: key.publicKey))
    }

    /// Longer messages, signed by OpenSSL (Tests/Scripts/ed25519_kat.py): message byte j of a
    /// message of length n is (13·j + n) mod 256.
    @Test("signatures equal OpenSSL's on messages of 1 to 4096 bytes", arguments: [
        ("006d9a3357c708d12cee0ab31ed6c4fcb20a8250ec287233d2c15f0a30420dbc", "dc1e8bd982af36bb26eb4bc25dbc2339bbf85c1ae091949109e3574729887112", 1, "e1d1f92eb9e43944d624ef93a1ca8e59d9509ad0dad5340f7fdcf3831679bedd3630ef663109c78f075a6af05a03d1ce67de688fa4d05c6c8faba2c4d19c1104"),
        ("ec110b4cd539e91433e25917085de7dcde9fa57919b8921997f54a8e2d2d29b1", "ba77b00b2d94970f99060ab81671157faa8b0b3ef6396b85a5a4de3c95e2f7a1", 63, "eba7f1ca50d411e52e8a2fb25e7bc2029a953e7f997d55a098a8ad76bd8a701a723c38237556c0254b3efd9bf496ebbe61721735022cc2c8b69229a97c4ead07"),
        ("4311912881d995e594d8d24e791a791f1d4cdcc2a5c599b7a912e56ddb5e3864", "8aebe0aec7df325858bc1c6d70901bc089907b8fe74fb71de91a9f748df19ac7", 64, "30178734a1ab3143fa01b7ba8ae2db90aa363b5c117278f79495f1c0ab18497d12b919809631b9ec411ba630f66ba638260d241ab5d94dd9b3ab48d9689ea100"),
        ("e719c5a261b0e6b4a59da3c4b0370f7e421f0c8fdcc38449fd0f47378dbfdd44", "99478a1697243c433593476435e9f7f46bfb1c6337db76242ec19e7bc41d8c9b", 65, "39338214841e05fef6c4012069452c2dee893033c534e661edf5ead37198c8105f0611f6fb7bd32f3e6f812015a0b19a2d6d4afc2b69510bc5de785b212dc401"),
        ("9841307a069ca46a4d8ed3711ae1b4e0951d33c164a1135b721d31a6a6157c8c", "a9bea2e54617a6ba592349710e8f22ffb935db7f7a604ee847fab383f6e3648f", 127, "caa00ddc074a46ad1bbbacfd84a941e93b588d6232ea688ea07271dde2b4c4be739f50c50c87f66bc46f78cc2e226339cbf7b4721a17403e128e943970881b0c"),
        ("99dfd83874cd12f52d166e9e77e8271fa6ec5f0502fc76b83dc05b5e665895d0", "bcfce9f18c3435b8d23d0a9690f275f663b513440359f18e0664ae3faa9c1df1", 128, "b2e9afbf9792c733de57ca3e523363842d39aa091e814ba510dbc60c94f49315060e57828a1c79c8c2e614ca97fcf5175c5475bbe9232545a37b6baa9c3abb0b"),
        ("40989ecc3d12721a74c8740667ded7e4a613a85e12bd3d96222c158b323c894b", "ff9f1b4006d31a73af12a5046ff391f2753e64a6d0f18611559cde7ccc7261b1", 1023, "93f30f973e5a1135163a2a38feeebe939b935c319e4c63195fc3d3f48427f83332f913f8020d56c194a1b459a985bcc9b16834a687241f76a99559faeee5dc0e"),
        ("ba688ae5febe10f8629a0f54a74a36be4ce3c5e4e7ec6da4652bc0ce61044a23", "56e25453d4d2ea5c5ac493db104859ec352b3f33fb3cecdb063c7c2352a0ab9a", 4096, "5517bb6f94f13d715c17d45747cb39c723d81c0dcb699e28bf33c40635af76e9d9b42faee146d2955af4e54871c654eea2b9000f6b0278e60212239dcec9f608"),
    ])
    func openSSL(seed: String, publicKey: String, length: Int, signature: String) {
        let key = Ed25519.SigningKey(seed: Self.bytes(seed))
        #expect(hexString(key.publicKey) == publicKey)
        let message = (0..<length).map { UInt8(truncatingIfNeeded: 13 * $0 + length) }
        #expect(hexString(key.signature(for: message)) == signature)
        #expect(Ed25519.isValidSignature(Self.bytes(signature), of: message, publicKey: key.publicKey))
    }

    @Test("rejections (RFC 8032 §5.1.7): a changed message, any flipped bit, S + ℓ, non-canonical and invalid points, wrong lengths")
    func rejections() {
        let key = Ed25519.SigningKey(seed: [UInt8](repeating: 7, count: 32))
        let message = Array("a fall at 03:12".utf8)
        let signature = key.signature(for: message)
        #expect(Ed25519.isValidSignature(signature, of: message, publicKey: key.publicKey))
        #expect(!Ed25519.isValidSignature(signature, of: Array("a fall at 03:13".utf8), publicKey: key.publicKey))
        for bit in stride(from: 0, to: 512, by: 7) {
            var changed = signature
            changed[bit / 8] ^= 1 << UInt8(bit % 8)
            #expect(!Ed25519.isValidSignature(changed, of: message, publicKey: key.publicKey), "bit \(bit)")
        }
        for bit in stride(from: 0, to: 256, by: 5) {
            var changed = key.publicKey
            changed[bit / 8] ^= 1 << UInt8(bit % 8)
            #expect(!Ed25519.isValidSignature(signature, of: message, publicKey: changed), "public key bit \(bit)")
        }
        // S + ℓ: the same value mod ℓ, but not canonical — malleability, refused.
        let order: [UInt8] = Self.bytes("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
        var sum = Array(signature[32..<64]), carry = 0
        for i in 0..<32 {
            let t = Int(sum[i]) + Int(order[i]) + carry
            sum[i] = UInt8(t & 255)
            carry = t >> 8
        }
        #expect(carry == 0)
        #expect(!Ed25519.isValidSignature(Array(signature[0..<32]) + sum, of: message, publicKey: key.publicKey))
        // Public keys that are not points: y = p (non-canonical encoding of 0), y = 2 (x² not a
        // square), and y = 1 (x = 0) with the sign bit set.
        let p = Self.bytes("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")
        var two = [UInt8](repeating: 0, count: 32); two[0] = 2
        var negativeZero = [UInt8](repeating: 0, count: 32); negativeZero[0] = 1; negativeZero[31] = 0x80
        for bad in [p, two, negativeZero] {
            #expect(!Ed25519.isValidSignature(signature, of: message, publicKey: bad))
        }
        #expect(!Ed25519.isValidSignature(Array(signature.prefix(63)), of: message, publicKey: key.publicKey))
        #expect(!Ed25519.isValidSignature(signature + [0], of: message, publicKey: key.publicKey))
        #expect(!Ed25519.isValidSignature(signature, of: message, publicKey: Array(key.publicKey.prefix(31))))
    }

    @Test("signing is deterministic; different seeds give different keys")
    func determinism() {
        let a = Ed25519.SigningKey(seed: [UInt8](repeating: 1, count: 32)), b = Ed25519.SigningKey(seed: [UInt8](repeating: 2, count: 32))
        #expect(a.signature(for: [1, 2, 3]) == a.signature(for: [1, 2, 3]))
        #expect(a.publicKey != b.publicKey)
        #expect(!Ed25519.isValidSignature(a.signature(for: [1, 2, 3]), of: [1, 2, 3], publicKey: b.publicKey))
    }
}
