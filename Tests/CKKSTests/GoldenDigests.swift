/// FNV-1a-64 digests of the objects serialized by `SerializationTests.objects()` (deterministic
/// seeds). A change here is a change of the wire format or of the key/encryption derivation:
/// bump `Serialization.version` if the format changed. Version 2: keys carry their level.
enum GoldenDigests {
    static let values: [String: UInt64] = [
        "parameters": 0x37c3_76fb_5b3a_8b08,
        "public key": 0x56d9_c71a_6318_5770,
        "relinearization key": 0x66a2_27de_076f_c96a,
        "Galois keys": 0xac09_5c8b_1bdf_d3f7,
        "secret key": 0xcddb_09b0_fbce_df96,
        "plaintext": 0xa3dd_8800_3be2_fe7f,
        "ciphertext": 0xb6bc_5d3e_a301_4e9c,
        "seeded ciphertext": 0x2fc0_6c5d_b024_42b5,
    ]
}
