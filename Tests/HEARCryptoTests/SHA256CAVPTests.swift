import Testing
import HEARCrypto

/// NIST CAVP SHA-256 "ShortMsg" (and, below, "LongMsg") vectors (byte-oriented, CAVS 21.3 format): 32 of the 65
/// messages of 0 to 512 bits, carried here as data (each also checked against Python's hashlib
/// when it was transcribed).
@Suite("SHA-256: NIST CAVP short and long messages")
struct SHA256CAVPTests {
    static let vectors: [(message: String, digest: String)] = [
        ("9e", "35af2d15ebde4d67b29569ec19749e813c76f02286afc5a2a9871c2bfbdaab32"),
        ("ce56", "cb8f96c222056053967f74a93fb0ed4088f25ab4cc0358aa80bc1e1428e9fb0e"),
        ("3ea674", "ca5d7e63e0fd1b0472d2d02c75639b32f18c101956bbd5fd278c6f41651e2068"),
        ("88f9bb23", "04ff3a2aca2ab6ee8656c87f715ff69827d73eb9966e374a027ecf09200df9cb"),
        ("e457cfe06f", "b0572462d42fb82e53c71425f43461c3238273adfa763ffafabc972a7fc60939"),
        ("e243b9f90185", "11c4243b5fc1f7b2f275d232712e08b609ac91dc89cfd3f9a9e276e7f106b12a"),
        ("0db9ea2a9f93f4", "a116a0a896c910a6417e3f8eb805bf6d38cd1d38cc2acb16a3f873915f92ddcf"),
        ("0f81ba90faa9c71b", "8f35b7099e150736efb9d9675f715385c13781f75fe3cd6fb95974c8915d6f32"),
        ("4c4088b2e433c30905", "bfc7af0862e677741ff9c9961064ee190a3e3750994e7c8a24e23aaa59e73e52"),
        ("b2be6502a1cedbe65f99", "c12ad4d6d2883eea0e5cda4758aa76f090ce9b83563c5a5c966a4347475570a7"),
        ("fa5f24a79888e302011cf7", "f8d8fbab9eb85c902881a25988e9521e2407de52b1659c441cf48853370c193f"),
        ("1cc11443731d24ec2a1ee88a", "28ec14531af5e52597d5ac74512ec40f57ba8963423a7cea2ef3bf6975023371"),
        ("d07b9810a98dc6a0f303a6735e", "48511005786f8ae106a04b7b8271797fe968953b354f4b69ba1114a962905b1f"),
        ("ac841680925e23c2cde90cab6758", "f4c971a8a87722bc7aa09b92f41f4e6af2cd43bb4fcbd747ddfbc0e32d0cf491"),
        ("283998bbbde6901048e7e354016999", "85ebf4736b038513f3150efdec296e22b59dd2a19b84ecd4cc97e70deb84aaff"),
        ("90fada11538dd065fbe41bd3022695e4", "4d9715cd24507b2b723fd7f1f9393bb25b098f05a19bd9fbfa55f81955ff31b3"),
        ("60d90dc41a5bbe50d93143edc083742305", "38df9c32b22c6893af68844dd128ec708799d8abfb395207c29e04a5d64d5f7b"),
        ("da2b463d36a47df91be0446da1ea8f926a2e", "5a23d04cfd2c911945f3908ce3f408a62c3182c07b70640cd2f569131fc5d65a"),
        ("bc8367028e3fded79dad054fae4bf179a543b5", "c3f899a1c75fb4f7b3c5ec3b54a41ac6435f297e74e457785988bf88603e9f3d"),
        ("6d699a4c59f936d6e12d6df282a62f663f693c7b", "58894e34eafb8981198e465e612b89e017e10f32d0375d25864f383748e6463a"),
        ("94554a32d6c886fe33a93538eb8cadb01f5c385986", "1277bedaf7b8f7b7d219da642f2cc016589612167989df46eea4a1af52ed4aa9"),
        ("541fd8941a08ae9ba5c598b4138e41ef0610f083a463", "74d9f2575150c710b98f009fb2c7c8930ce2262ae6735d404aae1528fefdb6ed"),
        ("1c133a524fbcbd8f89797da8716de2f93ffb902365dc31", "23af007112196cfc0e98e3cd51935895b675d51b17695ab68af7dcaecd965fa3"),
        ("26079936915c187ac7f8cb103073720f9f26981e28a60d22", "99a6d27bbf9ea1deefa1b8b64f4cebf0bacea3743e176892dd57f4415112380d"),
        ("0646bda729546d496d4890235667e548bbfc21e91b55e47535", "be2edcb8beeab6599fcca21b983ed6a776e4286a953e039103d4a175777ed47e"),
        ("b1d4b3f09f8c4645b6465e701d9df61043539b0dc6a0738694c97f0b50f51d0d", "28a71ed67523190e9eae6ed83de531ac3267739f85153a7ce787d589dcffbd6c"),
        ("0ded2796e36225c70ee4d35dab2bdde46745e6039d2ecdaebfa02f9cf72c2dfc0e", "47700e1b1403fa74e45093885121eeb2073e505549772b473a0615d935c1aba6"),
        ("c01aa85e8cbfe17a1e96f4b843c9b6a6246e322fc8fe4eb7da08ac68ad26cfc67d317f8af8b16eadfc971bc3a32ff78a", "c55f915c129b0e14c0d3b0551a9bdd537fa8fee3172349e130d3868b4ead663a"),
        ("08f645ff0f9a765593bd419ff60a308d3b4e70e816388577455d3c1f237ee14d7b0eb3999aef95a3a87d064138cd53dd1d360b187f11b4b3", "76f082a9a8e45c02a376ee1b42629cfb5db30e0ba1632f19cd28c96363f9da66"),
        ("e17116dc56b4ac41fa94e356cb2c3932d959ecacf0c9be117755f5189891a717a2a13476ab4e14647959d3caa30e597df31d6fb80fa67fc958", "32821cf9348d03b17b13a163b6d84a9819ddfa6da9afdd911f8e3aa7d4f18db0"),
        ("c3e81f34b716b165addda4fce195ba39e3a496ccf44f3746b3d0c0cef9a87a1501361b8ccc8949d4c3735a759fde5ed486635f5f7619e70be7abc300acae07", "2775a3f9bb46a4fda00eef650b45db52a8e8c948b6eff3b7a8206544de4f3ba0"),
        ("3d007ab1483de3511ce9a7edc7a9610bcacac0ec6f3d7cb45de08fcc6a00a185b01bc4fee3ea6147e29e72c68b6bf2dad44392bf17e4aeb2ae147f55c02b9254", "b9e850d487a74e6b8e07330b7648b6c1aa84cdcc16b238c96d47613de313e2f9"),
    ]

    @Test("every ShortMsg vector, whole and in single bytes")
    func shortMessages() {
        #expect(Self.vectors.count == 32)
        for (message, digest) in Self.vectors {
            let bytes = HMACTests.bytes(message)
            #expect(hexString(SHA256.hash(bytes)) == digest, "Len = \(8 * bytes.count)")
            var hasher = SHA256()
            for byte in bytes { hasher.update([byte]) }
            #expect(hexString(hasher.finalize()) == digest, "Len = \(8 * bytes.count), byte by byte")
        }
    }

    /// The first two vectors of NIST CAVP's "LongMsg" file (1304 and 2096 bits: three and five
    /// blocks). The whole file (up to 51,200 bits) was not reachable from our build machines;
    /// these two were found quoted verbatim, each with its `Len =` line, and checked against
    /// Python's hashlib when transcribed.
    static let longVectors: [(message: String, digest: String)] = [
        ("451101250ec6f26652249d59dc974b7361d571a8101cdfd36aba3b5854d3ae086b5fdd4597721b66e3c0dc5d8c606d9657d0e323283a5217d1f53f2f284f57b85c8a61ac8924711f895c5ed90ef17745ed2d728abd22a5f7a13479a462d71b56c19a74a40b655c58edfe0a188ad2cf46cbf30524f65d423c837dd1ff2bf462ac4198007345bb44dbb7b1c861298cdf61982a833afc728fae1eda2f87aa2c9480858bec",
         "3c593aa539fdcdae516cdf2f15000f6634185c88f505b39775fb9ab137a10aa2"),
        ("6b918fb1a5ad1f9c5e5dbdf10a93a9c8f6bca89f37e79c9fe12a57227941b173ac79d8d440cde8c64c4ebc84a4c803d198a296f3de060900cc427f58ca6ec373084f95dd6c7c427ecfbf781f68be572a88dbcbb188581ab200bfb99a3a816407e7dd6dd21003554d4f7a99c93ebfce5c302ff0e11f26f83fe669acefb0c1bbb8b1e909bd14aa48ba3445c88b0e1190eef765ad898ab8ca2fe507015f1578f10dce3c11a55fb9434ee6e9ad6cc0fdc4684447a9b3b156b908646360f24fec2d8fa69e2c93db78708fcd2eef743dcb9353819b8d667c48ed54cd436fb1476598c4a1d7028e6f2ff50751db36ab6bc32435152a00abd3d58d9a8770d9a3e52d5a3628ae3c9e0325",
         "46500b6ae1ab40bde097ef168b0f3199049b55545a1588792d39d594f493dca7"),
    ]

    @Test("LongMsg vectors (1304 and 2096 bits), whole and split at every byte")
    func longMessages() {
        for (message, digest) in Self.longVectors {
            let bytes = HMACTests.bytes(message)
            #expect(hexString(SHA256.hash(bytes)) == digest, "Len = \(8 * bytes.count)")
            for split in 0...bytes.count {
                var hasher = SHA256()
                hasher.update(Array(bytes[..<split]))
                hasher.update(Array(bytes[split...]))
                #expect(hexString(hasher.finalize()) == digest, "Len = \(8 * bytes.count), split at \(split)")
            }
        }
    }
}
