// The state a camera or a cloud server keeps between runs, and the replay state of the station.
//
//   <device>/identity.key        the device's signing key (mode 0600)
//   <device>/identity.pub        its public identity, for the station to certify
//   <device>/certificate.hear    the station's certificate (installed by the operator)
//   <device>/station.pin         the station this device trusts (pinned on first use or by --trust)
//   <device>/sequence            a camera's last sequence number (never reused)
//   <device>/accepted-sequences.json   a cloud server's evaluated (camera, sequence) pairs
import Foundation
import HEARCrypto

/// A camera's or cloud server's directory.
public struct DeviceDirectory: Sendable {
    /// The device's Ed25519 signing seed (secret; written with owner-only permissions).
    public static let identityKey = "identity.key"
    /// The device's public identity: role, name and Ed25519 public key.
    public static let identityPublic = "identity.pub"
    /// The station-signed certificate that binds the device's key to its role and name.
    public static let certificate = "certificate.hear"
    /// The station's public key, pinned when the device was enrolled.
    public static let pin = "station.pin"
    /// A camera's last used sequence number (the next ciphertext gets a larger one).
    public static let sequence = "sequence"
    /// The sequence numbers already accepted per camera (the replay guard of a cloud or station).
    public static let accepted = "accepted-sequences.json"
    /// The directory itself.
    public let url: URL

    /// The directory at `url` (nothing is read or created yet).
    public init(_ url: URL) { self.url = url }

    /// The URL of the file `name` in the directory.
    public func file(_ name: String) -> URL { url.appendingPathComponent(name) }
    /// The directory's path, as given.
    public var path: String { url.relativePath }

    /// Makes a new device directory with a fresh identity (the directory must not exist or be
    /// empty; it appears whole or not at all). Returns the public identity to certify.
    @discardableResult
    public static func create(at url: URL, role: PartyRole, name: String) throws(ProtocolError) -> PublicIdentity {
        guard role != .station else { throw .invalidInput("a station's identity is made by `hear keygen`") }
        let identity = try SigningIdentity.generate(role: role, name: name)
        var secret = identity.secretFile()
        defer { wipe(&secret) }
        try PartyStorage.writeDirectory([(identityKey, secret, 0o600), (identityPublic, identity.publicIdentity.serialized(), 0o644)], to: url)
        return identity.publicIdentity
    }

    /// The device's identity and certificate, checked against the station it trusts: `trust`
    /// (a fingerprint the operator gives) and the pinned `station.pin`. Without a pin, this use
    /// is the first (`firstUse` is true): the caller pins the certificate's station with `pin`
    /// once its step has succeeded, so that a refused command changes nothing.
    public func credentials(trust: Fingerprint? = nil) throws(ProtocolError) -> (credentials: DeviceCredentials, firstUse: Bool) {
        var secret = try PartyStorage.read(file(Self.identityKey), limit: 4096)
        defer { wipe(&secret) }
        let identity = try SigningIdentity(secretFile: secret, source: file(Self.identityKey).relativePath)
        let certificateURL = file(Self.certificate)
        guard FileManager.default.fileExists(atPath: certificateURL.path) else {
            throw .untrusted("\(path) has no \(Self.certificate): the monitoring station certifies this \(identity.role.title) with "
                             + "`hear certify --keys <station keys> --device \(file(Self.identityPublic).relativePath) --out \(certificateURL.relativePath)`")
        }
        let certificate = try Certificate(file: try PartyStorage.read(certificateURL, limit: 65536), source: certificateURL.relativePath)
        let credentials = try DeviceCredentials(identity: identity, certificate: certificate)
        let station = certificate.issuerFingerprint
        if let trust, trust != station {
            throw .untrusted("\(certificateURL.relativePath) was issued by station \(station), not by the station \(trust) given with --trust: refused")
        }
        let pinURL = file(Self.pin)
        if FileManager.default.fileExists(atPath: pinURL.path) {
            let pinned = try pinnedStation().publicKey
            guard pinned == certificate.issuerKey else {
                throw .untrusted("\(certificateURL.relativePath) was issued by station \(station), but this \(identity.role.title) trusts "
                                 + "station \(identityFingerprint(pinned)) (pinned in \(pinURL.relativePath)): refused")
            }
            return (credentials, false)
        }
        return (credentials, true)
    }

    /// Pins the station that certified `credentials` (trust on first use), unless a pin exists.
    public func pin(_ credentials: DeviceCredentials) throws(ProtocolError) {
        let pinURL = file(Self.pin)
        guard !FileManager.default.fileExists(atPath: pinURL.path) else { return }
        try PartyStorage.write(Array((credentials.certificate.issuer + "\n").utf8), to: pinURL)
    }

    /// The trusted station, once pinned.
    public func pinnedStation() throws(ProtocolError) -> StationTrust {
        let text = String(decoding: try PartyStorage.read(file(Self.pin), limit: 256), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let key = bytes(fromHex: text), key.count == 32 else {
            throw .damaged(source: file(Self.pin).relativePath, reason: "not the 64-hex-digit public key of a station")
        }
        return StationTrust(publicKey: key)
    }

    /// A camera's next sequence number: one more than the last one used, recorded (atomically)
    /// before it is returned, so that a number is never used twice even if the run fails later.
    public func nextSequence() throws(ProtocolError) -> UInt64 {
        let url = file(Self.sequence)
        var last: UInt64 = 0
        if FileManager.default.fileExists(atPath: url.path) {
            let text = String(decoding: try PartyStorage.read(url, limit: 64), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard let value = UInt64(text), value < UInt64.max else {
                throw .damaged(source: url.relativePath, reason: "not a sequence number")
            }
            last = value
        }
        try PartyStorage.write(Array("\(last + 1)\n".utf8), to: url)
        return last + 1
    }
}

/// The (camera, sequence number) pairs a party has accepted: the station's results, a cloud
/// server's inputs. A pair seen before is a replay. Kept per camera as sorted, disjoint ranges
/// of sequence numbers, so that the state stays small however long a camera runs.
public struct SequenceRegistry: Codable, Sendable, Equatable {
    /// Camera fingerprint (hex) → ranges [first, last] of accepted sequence numbers.
    var cameras: [String: [[UInt64]]] = [:]

    /// No sequence numbers accepted yet.
    public init() {}

    /// Decodes and validates: every key a camera fingerprint, every range two numbers in order
    /// (found by fuzzing: a range of one number used to trap in `contains`).
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let cameras = try container.decode([String: [[UInt64]]].self, forKey: .cameras)
        for (camera, ranges) in cameras {
            guard Fingerprint(hex: camera)?.hex == camera, ranges.allSatisfy({ $0.count == 2 && $0[0] <= $0[1] }) else {
                throw DecodingError.dataCorruptedError(forKey: .cameras, in: container,
                                                       debugDescription: "a camera fingerprint or a range of sequence numbers is malformed")
            }
        }
        self.cameras = cameras
    }

    /// Whether `sequence` was already accepted from `camera` (a replay).
    public func contains(camera: Fingerprint, sequence: UInt64) -> Bool {
        (cameras[camera.hex] ?? []).contains { $0[0] <= sequence && sequence <= $0[1] }
    }

    /// The largest sequence number accepted from `camera`, or nil when none was.
    public func latest(camera: Fingerprint) -> UInt64? { cameras[camera.hex]?.last?[1] }

    /// Records `sequence` from `camera` as accepted, merging it into the camera's ranges.
    public mutating func record(camera: Fingerprint, sequence: UInt64) {
        var ranges = cameras[camera.hex] ?? []
        ranges.append([sequence, sequence])
        ranges.sort { $0[0] < $1[0] }
        var merged: [[UInt64]] = []
        for range in ranges {
            if let last = merged.last, range[0] <= last[1] || (last[1] < UInt64.max && range[0] == last[1] + 1) {
                merged[merged.count - 1][1] = max(last[1], range[1])
            } else {
                merged.append(range)
            }
        }
        cameras[camera.hex] = merged
    }

    /// Refuses a ciphertext whose (camera, sequence) was accepted before.
    public func check(_ origin: CiphertextOrigin, source: String) throws(ProtocolError) {
        if contains(camera: origin.cameraFingerprint, sequence: origin.sequence) {
            throw .replayed("\(source) is sequence number \(origin.sequence) of camera '\(origin.camera)' (\(origin.cameraFingerprint)), "
                            + "which was already accepted: a replay, refused")
        }
    }

    /// The registry in `url` (empty when the file does not exist yet).
    public static func load(_ url: URL) throws(ProtocolError) -> SequenceRegistry {
        guard FileManager.default.fileExists(atPath: url.path) else { return SequenceRegistry() }
        let bytes = try PartyStorage.read(url, limit: 64 << 20)
        guard let registry = try? JSONDecoder().decode(SequenceRegistry.self, from: Data(bytes)) else {
            throw .damaged(source: url.relativePath, reason: "not a registry of accepted sequence numbers")
        }
        return registry
    }

    /// Writes the registry atomically.
    public func save(_ url: URL) throws(ProtocolError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try PartyStorage.write(Array(try! encoder.encode(self)) + [10], to: url, permissions: 0o600)
    }
}
