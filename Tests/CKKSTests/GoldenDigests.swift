/// SHA-256 digests of the objects serialized by `SerializationTests.objects()` (deterministic
/// seeds). A change here is a change of the wire format or of the key/encryption derivation:
/// bump `Serialization.version` if the format changed. Version 3: 128-bit SHA-256 parameter
/// fingerprints and a trailing `SHA256Tree` digest (version 2: keys carry their level). Key
/// derivation since December 2026: each key-switching key's errors come from its own secret seed
/// (drawn in order), so that keys are generated in parallel; the format did not change.
enum GoldenDigests {
    static let values: [String: String] = [
        "parameters": "57fb2458b7895e674cfbf8f2ec6c690b0b7eca86da4d69261a232b0ec2af3784",
        "public key": "dcc46415c4170d7ea2a0d5ca83ef0bbe14683118bb5cb45ef9dd2f81cbfb9313",
        "relinearization key": "74e4b6f4e4a0a509b6d68f61567fedc3bbcf3e57349a5699431fc1476012e09c",
        "Galois keys": "5ea7049a4724a8cdd08b26077bf8bf76d498aabb893bb41cdd4ea09f593fc658",
        "secret key": "1923e3d043d7b45767ad6146257fd1f4fd4e185087df7aa428cefbdbbe20d71c",
        "plaintext": "64f2796ccff150e316e9d24491e82edc718994cb6e113c21b8303a0e7e3aeb37",
        "ciphertext": "c6ec3b0fe1c4d877f00306a46d422a1e382af800e5358346fdf7bcfc75ff7733",
        "seeded ciphertext": "34935a6d06d8411c267440340fe67a33c412ee0762837cf46b04f74dcd09035f",
    ]
}
