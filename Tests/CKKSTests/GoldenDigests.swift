/// FNV-1a-64 digests of the objects serialized by `SerializationTests.objects()` (deterministic
/// seeds). A change here is a change of the wire format or of the key/encryption derivation:
/// bump `Serialization.version` if the format changed.
enum GoldenDigests {
    static let values: [String: UInt64] = [
        "parameters": 0xb7da_3441_358f_b1b3,
        "public key": 0xf149_c3df_3808_dbc5,
        "relinearization key": 0xecbe_a095_9bbe_2dfb,
        "Galois keys": 0xb2f1_f583_0280_5cc1,
        "secret key": 0x6321_db13_9109_c732,
        "plaintext": 0x0ba6_eed5_19ea_3650,
        "ciphertext": 0xed67_2d5d_6788_5ecc,
        "seeded ciphertext": 0x9f82_b48a_8210_185c,
    ]
}
