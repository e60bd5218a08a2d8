import Foundation
import HEARCrypto
import Testing
import HEAR

@Suite("identities, certificates, device directories, replay state")
struct IdentityTests {
    let station = SigningIdentity.deterministic(role: .station, name: "station", seed: [9])

    @Test("a signing key file round-trips, and every damaged one is refused")
    func keyFiles() throws {
        let camera = SigningIdentity.deterministic(role: .camera, name: "hall-2", seed: [1])
        let file = camera.secretFile()
        let back = try SigningIdentity(secretFile: file, source: "k")
        #expect(back.publicKey == camera.publicKey && back.role == .camera && back.name == "hall-2")
        #expect(back.fingerprint == identityFingerprint(camera.publicKey) && back.fingerprint.hex.count == 32)
        for position in 0..<file.count {
            var bad = file
            bad[position] ^= 0x10
            #expect(throws: ProtocolError.self, "byte \(position)") { try SigningIdentity(secretFile: bad, source: "k") }
        }
        for length in 0..<file.count {
            expectError(ProtocolError.self, sayingOneOf: ["k is damaged: ", "the magic bytes 'HEARIDKY' are missing"]) { try SigningIdentity(secretFile: Array(file.prefix(length)), source: "k") }
        }
        let publicFile = camera.publicIdentity.serialized()
        #expect(try PublicIdentity(file: publicFile, source: "p") == camera.publicIdentity)
        var forged = camera.publicIdentity
        forged.publicKey = hexString(station.publicKey)   // a key that does not match the fingerprint
        expectError(ProtocolError.self, saying: "the fingerprint does not belong to the public key") { try PublicIdentity(file: forged.serialized(), source: "p") }
    }

    @Test("names that could carry terminal escapes are refused")
    func names() {
        expectError(ProtocolError.self, saying: "is not 1–64 letters, digits, '.', '_' or '-'") { try SigningIdentity.generate(role: .camera, name: "cam\u{1b}[2J") }
        expectError(ProtocolError.self, saying: "the name '' is not 1–64 letters") { try SigningIdentity.generate(role: .camera, name: "") }
        expectError(ProtocolError.self, saying: "is not 1–64 letters, digits, '.', '_' or '-'") { try SigningIdentity.generate(role: .camera, name: String(repeating: "a", count: 65)) }
        #expect(printable("a\u{1b}[31mred") == "a?[31mred")
    }

    @Test("certificates: valid only for the key, role, name and issuer they were made for")
    func certificates() throws {
        let camera = SigningIdentity.deterministic(role: .camera, name: "kitchen", seed: [2])
        let certificate = try Certificate(certifying: camera.publicIdentity, by: station)
        #expect(certificate.isValid && certificate.issuerKey == station.publicKey && certificate.subjectKey == camera.publicKey)
        #expect(try Certificate(file: certificate.serialized(), source: "c") == certificate)
        var renamed = certificate
        renamed.name = "bedroom"
        #expect(!renamed.isValid)
        var promoted = certificate
        promoted.role = .cloud
        #expect(!promoted.isValid)
        var reissued = certificate
        reissued.issuer = hexString(camera.publicKey)
        #expect(!reissued.isValid)
        expectError(ProtocolError.self, saying: "the certificate's signature does not verify") { try Certificate(file: renamed.serialized(), source: "c") }
        // only a station certifies, and never a station
        expectError(ProtocolError.self, saying: "only the monitoring station certifies devices") { try Certificate(certifying: camera.publicIdentity, by: camera) }
        expectError(ProtocolError.self, saying: "a station is not certified; cameras and cloud servers are") { try Certificate(certifying: station.publicIdentity, by: station) }
    }

    @Test("a device directory: first use pins the station, a pin or --trust for another station refuses")
    func deviceDirectory() throws {
        let directory = try temporaryDirectory("device").appendingPathComponent("camera")
        let identity = try DeviceDirectory.create(at: directory, role: .camera, name: "kitchen")
        let device = DeviceDirectory(directory)
        let mode = try FileManager.default.attributesOfItem(atPath: device.file(DeviceDirectory.identityKey).path)[.posixPermissions] as? NSNumber
        #expect(mode?.intValue == 0o600)
        expectError(ProtocolError.self, saying: "has no certificate.hear: the monitoring station certifies this camera with `hear certify") { try device.credentials() }   // no certificate yet
        expectError(ProtocolError.self, saying: "the directory is not empty (it may hold keys; nothing is overwritten)") { try DeviceDirectory.create(at: directory, role: .camera, name: "again") }   // not empty
        let certificate = try Certificate(certifying: identity, by: station)
        try PartyStorage.write(certificate.serialized(), to: device.file(DeviceDirectory.certificate))
        // --trust for another station: refused, nothing pinned
        let other = SigningIdentity.deterministic(role: .station, name: "other", seed: [3])
        expectError(ProtocolError.self, saying: "given with --trust: refused") { try device.credentials(trust: other.fingerprint) }
        #expect(!FileManager.default.fileExists(atPath: device.file(DeviceDirectory.pin).path))
        let (credentials, firstUse) = try device.credentials(trust: station.fingerprint)
        #expect(firstUse && credentials.station.publicKey == station.publicKey)
        #expect(!FileManager.default.fileExists(atPath: device.file(DeviceDirectory.pin).path))   // pinned once the step succeeds
        try device.pin(credentials)
        #expect(try device.pinnedStation().publicKey == station.publicKey)
        #expect(try device.credentials().firstUse == false)
        // a certificate from another station after the pin: refused
        try PartyStorage.write(try Certificate(certifying: identity, by: other).serialized(), to: device.file(DeviceDirectory.certificate))
        do {
            _ = try device.credentials()
            Issue.record("a certificate of another station was accepted after the pin")
        } catch {
            #expect(error.description.contains("but this camera trusts station \(station.fingerprint)"))
        }
        // sequence numbers never repeat
        #expect(try device.nextSequence() == 1 && device.nextSequence() == 2 && device.nextSequence() == 3)
        try PartyStorage.write(Array("x\n".utf8), to: device.file(DeviceDirectory.sequence))
        expectError(ProtocolError.self, saying: "sequence is damaged: not a sequence number") { try device.nextSequence() }
    }

    @Test("the replay registry: ranges merge, membership is exact, the file round-trips and is validated")
    func registry() throws {
        let a = Fingerprint.of([1]), b = Fingerprint.of([2])
        var registry = SequenceRegistry()
        for sequence: UInt64 in [5, 3, 4, 9, 1, UInt64.max, UInt64.max - 1] { registry.record(camera: a, sequence: sequence) }
        registry.record(camera: b, sequence: 2)
        for sequence: UInt64 in [1, 3, 4, 5, 9, UInt64.max, UInt64.max - 1] { #expect(registry.contains(camera: a, sequence: sequence)) }
        for sequence: UInt64 in [0, 2, 6, 8, 10, UInt64.max - 2] { #expect(!registry.contains(camera: a, sequence: sequence)) }
        #expect(registry.contains(camera: b, sequence: 2) && !registry.contains(camera: b, sequence: 1))
        let url = try temporaryDirectory("registry").appendingPathComponent("accepted.json")
        #expect(try SequenceRegistry.load(url) == SequenceRegistry())
        try registry.save(url)
        #expect(try SequenceRegistry.load(url) == registry)
        let text = String(decoding: try PartyStorage.read(url), as: UTF8.self)
        #expect(text.contains("[[1,1],[3,5],[9,9],[18446744073709551614,18446744073709551615]]"))
        try PartyStorage.write(Array("{\"cameras\":{\"zz\":[[1,2]]}}".utf8), to: url)
        expectError(ProtocolError.self, saying: "is damaged: not a registry of accepted sequence numbers") { try SequenceRegistry.load(url) }
        try PartyStorage.write(Array("{\"cameras\":{\"\(a.hex)\":[[3,2]]}}".utf8), to: url)
        expectError(ProtocolError.self, saying: "is damaged: not a registry of accepted sequence numbers") { try SequenceRegistry.load(url) }
        // found by the fuzzer: a range of one number trapped in `contains`; now the decoder refuses it
        let oneNumber = #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(SequenceRegistry.self, from: Data("{\"cameras\":{\"\(a.hex)\":[[4]]}}".utf8))
        }
        if case let .dataCorrupted(context)? = oneNumber {
            #expect(context.debugDescription.contains("range"), "\(context.debugDescription)")
        } else {
            Issue.record("a one-number range: \(String(describing: oneNumber))")
        }
    }
}
