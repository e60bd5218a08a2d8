// Who signs: the long-term Ed25519 identities of the three parties and the station's
// certificates for cameras and cloud servers.
//
//   station  its key signs the session, the public key, the evaluation keys and the
//            certificates; its public key is the trust anchor every other party pins;
//   camera   (a client) signs each input ciphertext it makes, under a certificate from the station;
//   cloud    signs each result it computes, under a certificate from the station.
//
// Files: an identity's secret key (`identity.key`, mode 0600, binary, never printed), its public
// half (`identity.pub`, JSON) and a certificate (`certificate.hear`, JSON). A device directory
// (camera or cloud) holds these, the pinned station (`station.pin`) and its sequence state.
import CKKS
import Foundation
import HEARCrypto
import HERing

/// The role an identity signs for.
public enum PartyRole: String, Codable, Sendable, CaseIterable {
    /// The monitoring station: holds the secret key, issues certificates, decrypts results.
    case station
    /// A camera's client: encrypts skeleton clips under the session's public key.
    case camera
    /// The cloud server: evaluates the network on ciphertexts; never holds a secret key.
    case cloud

    /// "monitoring station", "camera", "cloud server".
    public var title: String {
        switch self {
        case .station: return "monitoring station"
        case .camera: return "camera"
        case .cloud: return "cloud server"
        }
    }
}

/// The fingerprint of an Ed25519 public key: SHA-256 of the 32 bytes, truncated to 128 bits.
public func identityFingerprint(_ publicKey: [UInt8]) -> Fingerprint { Fingerprint.of(publicKey) }

/// A name for a camera or a server: 1–64 characters among letters, digits, `.`, `_`, `-`
/// (so that it can never carry a terminal escape into a message).
func isValidIdentityName(_ name: String) -> Bool {
    (1...64).contains(name.utf8.count) && name.utf8.allSatisfy { c in
        (48...57).contains(c) || (65...90).contains(c) || (97...122).contains(c) || c == 46 || c == 95 || c == 45
    }
}

/// A party's public identity: role, name, Ed25519 public key.
public struct PublicIdentity: Codable, Sendable, Equatable {
    /// The role the key signs for.
    public var role: PartyRole
    /// The party's name (1–64 letters, digits, '.', '_' or '-').
    public var name: String
    /// 64 hexadecimal digits.
    public var publicKey: String
    /// 32 hexadecimal digits: `identityFingerprint(publicKey)` (checked on load).
    public var fingerprint: String

    /// The identity of `publicKey` (32 bytes), with its fingerprint computed.
    public init(role: PartyRole, name: String, publicKey: [UInt8]) {
        self.role = role
        self.name = name
        self.publicKey = hexString(publicKey)
        fingerprint = identityFingerprint(publicKey).hex
    }

    /// The public key's 32 bytes (empty if the hex is malformed; `init(file:source:)` refuses that).
    public var keyBytes: [UInt8] { bytes(fromHex: publicKey) ?? [] }

    /// Reads and checks an `identity.pub` file's bytes.
    public init(file bytes: [UInt8], source: String) throws(ProtocolError) {
        guard let identity = try? JSONDecoder().decode(PublicIdentity.self, from: Data(bytes)) else {
            throw .damaged(source: source, reason: "not a public identity (JSON with role, name, publicKey, fingerprint)")
        }
        guard isValidIdentityName(identity.name) else { throw .damaged(source: source, reason: "the name is not 1–64 letters, digits, '.', '_' or '-'") }
        guard let key = HEARCrypto.bytes(fromHex: identity.publicKey), key.count == 32, Ed25519.isValidPublicKey(key) else {
            throw .damaged(source: source, reason: "the public key is not a valid Ed25519 key")
        }
        guard identity.fingerprint.lowercased() == identityFingerprint(key).hex else {
            throw .damaged(source: source, reason: "the fingerprint does not belong to the public key")
        }
        self = identity
    }

    /// The `identity.pub` file: pretty-printed JSON with sorted keys and a final newline.
    public func serialized() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return Array(try! encoder.encode(self)) + [10]
    }
}

/// A party's signing identity: role, name and Ed25519 key (wiped when released).
public final class SigningIdentity: @unchecked Sendable {
    /// The role the key signs for.
    public let role: PartyRole
    /// The party's name.
    public let name: String
    let key: Ed25519.SigningKey

    /// The Ed25519 public key (32 bytes).
    public var publicKey: [UInt8] { key.publicKey }
    /// The fingerprint of the public key.
    public var fingerprint: Fingerprint { identityFingerprint(key.publicKey) }
    /// Role, name and public key, as the `identity.pub` file holds them.
    public var publicIdentity: PublicIdentity { PublicIdentity(role: role, name: name, publicKey: key.publicKey) }

    init(role: PartyRole, name: String, seed: [UInt8]) {
        self.role = role
        self.name = name
        key = Ed25519.SigningKey(seed: seed)
    }

    /// A new identity from system entropy.
    public static func generate(role: PartyRole, name: String) throws(ProtocolError) -> SigningIdentity {
        guard isValidIdentityName(name) else {
            throw .invalidInput("the name '\(printable(name))' is not 1–64 letters, digits, '.', '_' or '-'")
        }
        var seed: [UInt8]
        do { seed = try ChaCha20.systemRandomBytes(Ed25519.seedByteCount) } catch {
            throw .entropyUnavailable(error.description)
        }
        defer { wipe(&seed) }
        return SigningIdentity(role: role, name: name, seed: seed)
    }

    /// A reproducible identity, for tests only.
    public static func deterministic(role: PartyRole, name: String, seed: [UInt8]) -> SigningIdentity {
        SigningIdentity(role: role, name: name, seed: SHA256.hash(seed))
    }

    func sign(_ message: [UInt8]) -> [UInt8] { key.signature(for: message) }

    // The secret key file: "HEARIDKY" · version u8 (1) · role u8 · name length u8 · name · seed (32) ·
    // the first 16 bytes of SHA-256 of everything before (integrity; the file never leaves its owner).
    static let magic = Array("HEARIDKY".utf8)

    /// The secret key file's bytes (write with mode 0600; wipe after writing).
    public func secretFile() -> [UInt8] {
        var out = Self.magic + [1, UInt8(PartyRole.allCases.firstIndex(of: role)!), UInt8(name.utf8.count)] + Array(name.utf8)
        out += key.seedBytes
        out += SHA256.hash(out).prefix(16)
        return out
    }

    /// An identity from its secret key file's bytes (the caller wipes them).
    public convenience init(secretFile bytes: [UInt8], source: String) throws(ProtocolError) {
        guard bytes.count >= 11, Array(bytes[0..<8]) == Self.magic else {
            throw .damaged(source: source, reason: "not a HEAR signing key (the magic bytes 'HEARIDKY' are missing)")
        }
        guard bytes[8] == 1 else { throw .damaged(source: source, reason: "signing key format version \(bytes[8]); this build reads 1") }
        guard Int(bytes[9]) < PartyRole.allCases.count else { throw .damaged(source: source, reason: "unknown role \(bytes[9])") }
        let nameLength = Int(bytes[10])
        guard bytes.count == 11 + nameLength + 32 + 16 else {
            throw .damaged(source: source, reason: "\(bytes.count) bytes, \(11 + nameLength + 48) expected")
        }
        guard constantTimeEqual(Array(SHA256.hash(bytes[0..<(bytes.count - 16)]).prefix(16)), Array(bytes.suffix(16))) else {
            throw .damaged(source: source, reason: "the SHA-256 check does not match: the key file is corrupted")
        }
        guard let name = String(bytes: bytes[11..<(11 + nameLength)], encoding: .utf8), isValidIdentityName(name) else {
            throw .damaged(source: source, reason: "invalid name")
        }
        var seed = Array(bytes[(11 + nameLength)..<(11 + nameLength + 32)])
        defer { wipe(&seed) }
        self.init(role: PartyRole.allCases[Int(bytes[9])], name: name, seed: seed)
    }
}

/// The station's statement that a public key belongs to a camera or cloud server of this name.
///
/// Signed message: "HEAR certificate 1" · 0 · role · 0 · name · 0 · subject key (32) · issuer key (32).
public struct Certificate: Codable, Sendable, Equatable {
    /// The certified party's role (camera or cloud, never station).
    public var role: PartyRole
    /// The certified party's name.
    public var name: String
    /// The certified key and the station's key, 64 hex digits each; the station's signature, 128.
    public var publicKey: String
    /// The station's public key (64 hex digits).
    public var issuer: String
    /// The station's Ed25519 signature of the certificate message (128 hex digits).
    public var signature: String

    static func message(role: PartyRole, name: String, subject: [UInt8], issuer: [UInt8]) -> [UInt8] {
        Array("HEAR certificate 1".utf8) + [0] + Array(role.rawValue.utf8) + [0] + Array(name.utf8) + [0] + subject + issuer
    }

    /// The station certifies `identity` (a camera or a cloud server).
    public init(certifying identity: PublicIdentity, by station: SigningIdentity) throws(ProtocolError) {
        guard station.role == .station else { throw .invalidInput("only the monitoring station certifies devices") }
        guard identity.role != .station else { throw .invalidInput("a station is not certified; cameras and cloud servers are") }
        role = identity.role
        name = identity.name
        publicKey = identity.publicKey
        issuer = hexString(station.publicKey)
        signature = hexString(station.sign(Self.message(role: role, name: name, subject: identity.keyBytes, issuer: station.publicKey)))
    }

    /// The certified key's 32 bytes (empty if malformed; a loaded certificate is checked).
    public var subjectKey: [UInt8] { bytes(fromHex: publicKey) ?? [] }
    /// The station's key's 32 bytes (empty if malformed).
    public var issuerKey: [UInt8] { bytes(fromHex: issuer) ?? [] }
    /// The fingerprint of the certified key.
    public var subjectFingerprint: Fingerprint { identityFingerprint(subjectKey) }
    /// The fingerprint of the station's key.
    public var issuerFingerprint: Fingerprint { identityFingerprint(issuerKey) }

    /// Whether the fields are well formed and the signature is the issuer's.
    public var isValid: Bool {
        guard role != .station, isValidIdentityName(name), let subject = bytes(fromHex: publicKey), subject.count == 32,
              let issuer = bytes(fromHex: issuer), issuer.count == 32, let signature = bytes(fromHex: signature) else { return false }
        return Ed25519.isValidSignature(signature, of: Self.message(role: role, name: name, subject: subject, issuer: issuer), publicKey: issuer)
    }

    /// Checks that the certificate is valid, issued by `station`, for `role`; `source` names where it came from.
    func check(issuedBy station: [UInt8], role expected: PartyRole, source: String) throws(ProtocolError) {
        guard isValid else { throw .damaged(source: source, reason: "the \(expected.title)'s certificate does not verify") }
        guard role == expected else {
            throw .untrusted("\(source) is signed by a \(role.title) ('\(name)'), not by a \(expected.title)")
        }
        guard issuerKey == station else {
            throw .untrusted("\(source) comes from \(expected.title) '\(name)' (\(subjectFingerprint)), certified by station "
                             + "\(issuerFingerprint), not by the trusted station \(identityFingerprint(station)): an unknown \(expected.title)")
        }
    }

    /// Reads a `certificate.hear` file and checks its signature; `source` names it in errors.
    /// - Throws: `ProtocolError.damaged` when the JSON or the signature does not check.
    public init(file bytes: [UInt8], source: String) throws(ProtocolError) {
        guard let certificate = try? JSONDecoder().decode(Certificate.self, from: Data(bytes)) else {
            throw .damaged(source: source, reason: "not a certificate (JSON with role, name, publicKey, issuer, signature)")
        }
        guard certificate.isValid else { throw .damaged(source: source, reason: "the certificate's signature does not verify") }
        self = certificate
    }

    /// The `certificate.hear` file: pretty-printed JSON with sorted keys and a final newline.
    public func serialized() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return Array(try! encoder.encode(self)) + [10]
    }
}

/// Which station a camera or cloud server trusts: the public key it pinned.
public struct StationTrust: Sendable, Equatable {
    /// The pinned station key (32 bytes).
    public let publicKey: [UInt8]
    /// Who trusts it, for messages ("this camera").
    public var holder: String
    /// The fingerprint of the pinned key.
    public var fingerprint: Fingerprint { identityFingerprint(publicKey) }

    /// Trust in the station of `publicKey`; `holder` names the trusting party in messages.
    public init(publicKey: [UInt8], holder: String = "this party") {
        self.publicKey = publicKey
        self.holder = holder
    }

    /// Checks that `signer` (the key that signed `source`) is the trusted station.
    func check(signer: [UInt8], source: String, pinnedIn: String?) throws(ProtocolError) {
        guard signer == publicKey else {
            throw .untrusted("\(source) is signed by station \(identityFingerprint(signer)), but \(holder) trusts station "
                             + "\(fingerprint)" + (pinnedIn.map { " (pinned in \($0))" } ?? "") + ": refused")
        }
    }
}

/// A device's signing identity with the certificate that the trusted station gave it.
public struct DeviceCredentials: Sendable {
    /// The device's signing identity (its key is wiped when released).
    public let identity: SigningIdentity
    /// The station's certificate of that identity.
    public let certificate: Certificate

    /// Credentials; the certificate must be valid and name this identity's key, role and name.
    /// - Throws: `ProtocolError.mismatch` when the certificate is for another identity.
    public init(identity: SigningIdentity, certificate: Certificate) throws(ProtocolError) {
        guard certificate.isValid, certificate.subjectKey == identity.publicKey, certificate.role == identity.role,
              certificate.name == identity.name else {
            throw .mismatch("the certificate is for \(certificate.role.title) '\(certificate.name)' (\(certificate.subjectFingerprint)), "
                            + "not for this \(identity.role.title) '\(identity.name)' (\(identity.fingerprint))")
        }
        self.identity = identity
        self.certificate = certificate
    }

    /// The station that issued the certificate.
    public var station: StationTrust { StationTrust(publicKey: certificate.issuerKey, holder: "this \(identity.role.title)") }
}

/// `text` safe to print to a terminal: control characters (escape sequences among them) become
/// '?', and at most 200 characters are kept. For names and paths that come from files or input.
public func printable(_ text: String) -> String {
    var out = String(text.unicodeScalars.prefix(200).map { $0.properties.generalCategory == .control ? "?" : Character($0) })
    if text.unicodeScalars.count > 200 { out += "…" }
    return out
}
