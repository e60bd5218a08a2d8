// The three parties through files: `hear keygen` (monitoring station), `hear encrypt` (client),
// `hear infer` (cloud server), `hear decrypt` (monitoring station), `hear demo` (all three in
// turn), `hear inspect` (what a file holds, never a secret).
import CKKS
import Dispatch
import Foundation
import HEAR
import HEARCrypto
import HERing
import HETensor

let keygenHelp = """
    usage: hear keygen [--model <name|dir|file>] --out <dir> [--identity <station.key>]
                       [--preset default|seal-style|hear|fast-hear] [--method fast-hear|hear]
                       [--strategy auto|full|giant|baby[,…]] [--packing auto|real|complex] [--data <dir>]

      The monitoring station's first step: compiles the model into its encrypted plan and
      generates a fresh key set from system entropy. Writes into <dir>, which must not exist or
      be empty (keys are never overwritten); the directory (mode 0700) appears whole or not at all:
        parameters.hear       the session: model fingerprint, plan, CKKS parameter set (public)
        public-key.hear       for the cameras
        evaluation-keys.hear  for the cloud server: the relinearization key and exactly the
                              plan's Galois keys, each up to the level where it is used
        secret-key.hear       stays at the station (mode 0600)
        station.key           the station's long-term Ed25519 signing key (mode 0600, never printed)
        station.pub           its public half; the fingerprint printed is what cameras and
                              cloud servers trust (--trust)
      Every file the station hands out is signed with station.key.
      --identity  keep the station's identity of an earlier key directory (its station.key)
                  instead of making a new one: cameras and servers that trust it keep working
      --model, --method, --strategy, --packing, --preset as for `hear evaluate --encrypted`.
    """

let enrollHelp = """
    usage: hear enroll --role camera|cloud --name <name> --out <dir>

      Makes the directory of a camera or a cloud server with a fresh Ed25519 signing identity
      (<dir>/identity.key, mode 0600, never printed) and its public half (<dir>/identity.pub),
      and prints the fingerprint. The station then certifies it (`hear certify`); the
      certificate goes to <dir>/certificate.hear. <dir> must not exist or be empty.
      --name  1–64 letters, digits, '.', '_' or '-' (e.g. kitchen-camera)
    """

let certifyHelp = """
    usage: hear certify --keys <station key dir> --device <identity.pub> --out <certificate file>

      The monitoring station certifies a camera or a cloud server: signs its public identity with
      the station key (<keys>/station.key). Compare the fingerprint printed with the one
      `hear enroll` printed on the device before handing out the certificate; install it as
      <device dir>/certificate.hear.
    """

let encryptHelp = """
    usage: hear encrypt --device <dir> --public-key <file> --input <keypoints.csv> --out <file> [--threshold <pixels>] [--trust <fp>]
           hear encrypt --device <dir> --public-key <file> --input <test_inputs.csv> --row <i> --out <file>
           hear encrypt --device <dir> --public-key <file> --clip <i> --out <file> [--data <dir>]
           hear encrypt --device <dir> --public-key <file> --clip <i> --out <file> --clip <j> --out <file> …

      The camera's step: turns a recording into the 3 × 32 × 15 network input, encrypts it with
      the public key (at the level and scale of the model's plan) and signs the file with the
      camera's key, with the next sequence number of the camera.
      --device     the camera's directory (`hear enroll --role camera`, with the station's
                   certificate.hear). The public key must be signed by the station that issued the
                   certificate and that the camera trusts: pinned in <dir>/station.pin on first use
      --trust      the station's fingerprint (32 hex digits), checked before anything is pinned
      --input      a per-frame keypoint CSV of any length (45 numbers per line: x, y, score for the
                   15 joints), reduced to 32 frames by the paper's frame selection; or, with
                   --row, row i (from 0) of a file in the format of the paper's test_inputs.csv
      --clip       clip i (0…607) of the paper's test set (bundled, or from --data)
      --threshold  the frame-selection threshold (default 5 pixels)
      --out        the input ciphertext file (written atomically)
      Several recordings in one run: repeat --input (or --clip) and --out, one --out per recording
      in the same order; the public key is read and checked once, every recording is read before
      anything is written, and each file gets the camera's next sequence number.
    """

let inferHelp = """
    usage: hear infer --device <dir> [--model <name|dir|file>] --eval-keys <file> --in <file> --out <file> [--in <file> --out <file> …]
                      [--trust <fp>] [--threads <n>] [--weights-memory <MB>|all] [--data <dir>]

      The cloud server's step: evaluates the model on an input ciphertext with the evaluation
      keys only, and writes the encrypted result (10 class scores), signed with the server's key.
      It refuses a secret key file, evaluation keys not signed by the trusted station or made for
      another model, plan or key set, an input not signed by a camera the station certified, and
      an input it has already evaluated (<dir>/accepted-sequences.json).
      --device     the server's directory (`hear enroll --role cloud`, with its certificate.hear)
      --trust      the station's fingerprint, as for `hear encrypt`
      --in, --out  repeat them to evaluate several inputs in one run: the evaluation keys are read
                   and the weights encoded once; an input that is refused is reported, the others
                   are still evaluated (exit status: the first refusal's)
      --threads, --weights-memory as for `hear evaluate --encrypted`.
    """

let decryptHelp = """
    usage: hear decrypt --secret-key <file> --in <result file> [--identity <station.key>] [--state <file>] [--raw] [--json]

      The monitoring station's second step: checks the result's chain of signatures — the cloud
      server's, the camera's on the input it carries, both certified by this station — and that
      its sequence number is new for that camera; decrypts; checks the level, scale and range of
      the scores; records the sequence number; prints the decision: the class, its confidence
      (softmax probability rounded to 0.01) and the fall alert. Only the rounded decision is
      released by default: exact decrypted values carry the encryption noise, from which the
      secret key can be recovered (Li & Micciancio, EUROCRYPT 2021).
      --identity  the station key (default: station.key beside the secret key)
      --state     the accepted sequence numbers (default: accepted-sequences.json beside the secret key)
      --raw       also print the decrypted scores at full precision (with a warning on stderr)
      --json      print the decision as one JSON object (class, classIndex, confidence, alert, model,
                  keySet, camera, sequence; scores with --raw), for scripts
    """

let demoHelp = """
    usage: hear demo [--clip <i>[,<j>…]] [--model <name|dir|file>] [--data <dir>] [--threads <n>] [--keep <dir>]
           hear demo --synthetic [--threads <n>] [--keep <dir>]

      Runs the three parties in turn through files in a temporary directory: the monitoring
      station generates the keys; the client encrypts each clip; the cloud server evaluates; the
      station decrypts and decides. Prints each step with its sizes and times, and for each clip
      its label, the station's decision and the plaintext network's decision. By default: the
      paper's 2D-CNN-64 on four real test clips (164 fall, 381 walk, 98 sit, 426 pick), all
      bundled, so it needs nothing but the build.
      --clip       other clips of the paper's test set (0…607), comma-separated
      --synthetic  the embedded model trained on SYNTHETIC clips, on the bundled SYNTHETIC recordings
      --keep       keep the files in this directory (must not exist or be empty) instead of deleting them
    """

let inspectHelp = """
    usage: hear inspect <file>

      Says what a HEAR key, ciphertext, identity or certificate file holds: its kind, who signed
      it, the model plan and the parameter set it belongs to, and its size. Never prints key
      material. The signature is checked, the signer is not (inspect trusts no one).
    """

func failure(_ error: ProtocolError) -> CommandFailure {
    switch error {
    case .cannotRead: return CommandFailure(code: .noInput, message: error.description)
    case .cannotWrite: return CommandFailure(code: .cannotCreate, message: error.description)
    case .entropyUnavailable: return CommandFailure(code: .software, message: error.description)
    default: return CommandFailure(code: .dataError, message: error.description)
    }
}

/// A `throws(ProtocolError)` step as a command failure.
func protocolStep<T>(_ body: () throws(ProtocolError) -> T) throws(CommandFailure) -> T {
    do { return try body() } catch { throw failure(error) }
}

/// The station's signing identity from its key file (the file's bytes are wiped once read).
func loadStationIdentity(_ url: URL) throws(CommandFailure) -> SigningIdentity {
    return try protocolStep { () throws(ProtocolError) in
        var bytes = try PartyStorage.read(url, limit: 4096)
        defer { wipe(&bytes) }
        let identity = try SigningIdentity(secretFile: bytes, source: url.relativePath)
        guard identity.role == .station else {
            throw .untrusted("\(url.relativePath) is the key of a \(identity.role.title), not of a monitoring station")
        }
        return identity
    }
}

/// The monitoring station from its secret key file and its identity (the bytes are wiped once read).
func loadStation(_ url: URL, source: String, identity identityURL: URL? = nil) throws(CommandFailure) -> MonitoringStation {
    let identity = try loadStationIdentity(identityURL ?? url.deletingLastPathComponent().appendingPathComponent(KeyFile.stationKey))
    var bytes = try readPartyFile(url, kind: .secretKey)
    defer { bytes.withUnsafeMutableBytes { wipe($0) } }
    do { return try MonitoringStation(secretKeyFile: bytes, source: source, identity: identity, parallelism: commandParallelism) } catch { throw failure(error) }
}

/// A party file, refused before it is read when it is larger than a file of `kind` can be.
func readPartyFile(_ url: URL, kind: PartyFileKind? = nil) throws(CommandFailure) -> [UInt8] {
    do { return try PartyStorage.read(url, kind: kind) } catch { throw failure(error) }
}

/// `--trust <fingerprint>`.
func trustOption(_ options: Options) throws(CommandFailure) -> Fingerprint? {
    guard let text = options.values["trust"] else { return nil }
    guard let fingerprint = Fingerprint(hex: text) else {
        throw CommandFailure(code: .usage, message: "--trust takes the station's fingerprint, 32 hexadecimal digits, got \"\(printable(text))\"")
    }
    return fingerprint
}

/// A device directory's credentials, and whether this is its first use (no station pinned yet);
/// the directory must be one of a device of `role`.
func deviceCredentials(_ options: Options, role: PartyRole) throws(CommandFailure) -> (DeviceDirectory, DeviceCredentials, firstUse: Bool) {
    let device = DeviceDirectory(URL(fileURLWithPath: try options.required("device")))
    let trust = try trustOption(options)
    let (credentials, firstUse) = try protocolStep { () throws(ProtocolError) in try device.credentials(trust: trust) }
    guard credentials.identity.role == role else {
        throw CommandFailure(code: .dataError, message: "\(device.path) is the directory of a \(credentials.identity.role.title), not of a \(role.title)")
    }
    return (device, credentials, firstUse)
}

/// After a device's step succeeded: on first use, pins the station and says so on stderr.
func pinAfterSuccess(_ device: DeviceDirectory, _ credentials: DeviceCredentials, firstUse: Bool, trusted: Bool) throws(CommandFailure) {
    guard firstUse else { return }
    try protocolStep { () throws(ProtocolError) in try device.pin(credentials) }
    FileHandle.standardError.write(Data(("hear: pinned station \(credentials.station.fingerprint) in \(device.file(DeviceDirectory.pin).relativePath) "
        + "(first use\(trusted ? ", as --trust said" : "; compare it with the fingerprint `hear keygen` printed"))\n").utf8))
}

func writePartyFile(_ bytes: [UInt8], to url: URL, permissions: UInt16 = 0o644) throws(CommandFailure) {
    do { try PartyStorage.write(bytes, to: url, permissions: permissions) } catch { throw failure(error) }
}

/// The file names `hear keygen` writes.
enum KeyFile {
    static let parameters = "parameters.hear", publicKey = "public-key.hear", evaluationKeys = "evaluation-keys.hear",
               secretKey = "secret-key.hear", stationKey = "station.key", stationPublic = "station.pub",
               accepted = "accepted-sequences.json"
}

/// The score bound a station records: 4 × the largest |class score| of the plaintext network
/// over `calibration` (the paper's test clips): a genuine result on a real recording stays far inside.
func scoreBound(_ folded: FoldedNetwork, calibration: [ActionInput]) -> Double {
    let largest = folded.logits(calibration, parallelism: commandParallelism).joined().reduce(0.0) { max($0, abs($1)) }
    return 4 * max(largest, 1)
}

/// The paper's test clips as network inputs (the calibration of the score bound).
func calibrationInputs(_ testSet: HEARTestSet) -> [ActionInput] { testSet.sequences.map { Preprocessing.normalize($0) } }

/// Generates a key set and writes the key directory; returns the key generation.
func writeKeys(folded: FoldedNetwork, settings: EncryptedSettings, identity: SigningIdentity? = nil, calibration: [ActionInput],
               to out: URL) throws(CommandFailure) -> MonitoringStation.KeyGeneration {
    let keys: MonitoringStation.KeyGeneration
    do {
        keys = try MonitoringStation.generateKeys(for: folded, method: settings.method, strategies: settings.strategies,
                                                  packing: settings.packing, parameters: settings.parameters, identity: identity,
                                                  scoreBound: scoreBound(folded, calibration: calibration), parallelism: commandParallelism)
    } catch {
        // a model, method or preset that cannot run together is a bad argument; every other
        // cause keeps its own exit status (no randomness: 70)
        if case .invalidInput = error { throw CommandFailure(code: .usage, message: error.description) }
        throw failure(error)
    }
    var secret = keys.station.secretKeyFile(), stationKey = keys.station.identity.secretFile()
    defer { wipe(&secret); wipe(&stationKey) }
    do {
        try PartyStorage.writeDirectory([(KeyFile.parameters, keys.parametersFile(), 0o644),
                                         (KeyFile.publicKey, try keys.publicKeyFile(), 0o644),
                                         (KeyFile.evaluationKeys, try keys.evaluationKeysFile(), 0o644),
                                         (KeyFile.secretKey, secret, 0o600),
                                         (KeyFile.stationKey, stationKey, 0o600),
                                         (KeyFile.stationPublic, keys.station.identity.publicIdentity.serialized(), 0o644)], to: out)
    } catch { throw failure(error) }
    return keys
}

func fileSize(_ url: URL) -> Int {
    ((try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? NSNumber)?.intValue ?? 0
}

func keygen(_ arguments: ArraySlice<String>) throws(CommandFailure) {
    let options = try Options(arguments, allowed: ["model", "out", "preset", "method", "strategy", "packing", "data", "identity"])
    let out = URL(fileURLWithPath: try options.required("out"))
    let settings = try EncryptedSettings(options)
    let identity = try options.values["identity"].map { path throws(CommandFailure) in try loadStationIdentity(URL(fileURLWithPath: path)) }
    if let contents = try? FileManager.default.contentsOfDirectory(atPath: out.path), !contents.isEmpty {  // before any work
        throw CommandFailure(code: .cannotCreate, message: "cannot write \(out.relativePath): the directory is not empty (it may hold keys; nothing is overwritten)")
    }
    let (model, modelOrigin) = try loadModel(options.values["model"] ?? "default", source: dataSource(options))
    let testSet = try loadTestSet(dataSource(options))
    let folded: FoldedNetwork
    do { folded = try FoldedNetwork(folding: model) } catch { throw failure(error) }
    if settings.parameters.name == "fast-hear" {
        FileHandle.standardError.write(Data(("hear: warning: the paper's Fast-HEAR chain (log2 QP = 432) exceeds the 430 bits the 2024 "
            + "security guideline allows at N = 2^14 for 128-bit security (it met the 2018 table's 438): use the default preset for real keys\n").utf8))
    }
    let start = DispatchTime.now().uptimeNanoseconds
    Progress.note("generating the keys…")
    let keys = try writeKeys(folded: folded, settings: settings, identity: identity, calibration: calibrationInputs(testSet), to: out)
    let session = keys.station.session
    print("model     \(printable(model.name)) from \(modelOrigin), fingerprint \(session.modelFingerprint)")
    print("plan      \(session.planSummary)")
    print("preset    \(settings.parameters.description)")
    print(String(format: "keys      generated in %.2f s, written in %.2f s: key set %@", keys.seconds, wallSeconds(since: start) - keys.seconds,
                 session.keySetID))
    for (name, role) in [(KeyFile.parameters, "the session (public)"), (KeyFile.publicKey, "for the cameras"),
                         (KeyFile.evaluationKeys, "for the cloud server (\(keys.evaluationKeys.galoisKeys.entries.count) Galois keys + relinearization)"),
                         (KeyFile.secretKey, "stays here, mode 0600"), (KeyFile.stationKey, "the station's signing key, stays here, mode 0600"),
                         (KeyFile.stationPublic, "the station's identity")] {
        print("  " + out.appendingPathComponent(name).relativePath.padding(toLength: max(24, out.relativePath.count + 22), withPad: " ", startingAt: 0)
              + megabytes(fileSize(out.appendingPathComponent(name))).leftPadded(10) + "  " + role)
    }
    print("station   \(keys.station.identity.fingerprint)   (cameras and cloud servers trust this: --trust \(keys.station.identity.fingerprint))")
    print("scores    the station accepts class scores within ±\(String(format: "%.1f", session.scoreBound)) "
          + "(4 × the largest over the \(testSet.count) test clips)")
}

func enroll(_ arguments: ArraySlice<String>) throws(CommandFailure) {
    let options = try Options(arguments, allowed: ["role", "name", "out"])
    let roleText = try options.required("role")
    guard let role = PartyRole(rawValue: roleText), role != .station else {
        throw CommandFailure(code: .usage, message: "--role is camera or cloud, got \"\(printable(roleText))\" (a station's identity comes from `hear keygen`)")
    }
    let name = try options.required("name")
    let out = URL(fileURLWithPath: try options.required("out"))
    let identity: PublicIdentity
    do { identity = try DeviceDirectory.create(at: out, role: role, name: name) } catch {
        if case .invalidInput = error { throw CommandFailure(code: .usage, message: error.description) }
        throw failure(error)
    }
    print("\(role.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)) '\(identity.name)', fingerprint \(identity.fingerprint)")
    print("  \(out.appendingPathComponent(DeviceDirectory.identityKey).relativePath)   signing key, mode 0600 (stays here)")
    print("  \(out.appendingPathComponent(DeviceDirectory.identityPublic).relativePath)   for the station: hear certify --device <this file>")
}

func certify(_ arguments: ArraySlice<String>) throws(CommandFailure) {
    let options = try Options(arguments, allowed: ["keys", "device", "out"])
    let keys = URL(fileURLWithPath: try options.required("keys"))
    let deviceURL = URL(fileURLWithPath: try options.required("device"))
    let out = URL(fileURLWithPath: try options.required("out"))
    try checkWritable(out)
    let station = try loadStationIdentity(keys.appendingPathComponent(KeyFile.stationKey))
    let certificate = try protocolStep { () throws(ProtocolError) in
        let device = try PublicIdentity(file: try PartyStorage.read(deviceURL, limit: 65536), source: deviceURL.relativePath)
        return try Certificate(certifying: device, by: station)
    }
    try writePartyFile(certificate.serialized(), to: out)
    print("certified \(certificate.role.title) '\(certificate.name)', fingerprint \(certificate.subjectFingerprint)")
    print("          by station \(station.fingerprint): \(out.relativePath) (install it as <device dir>/\(DeviceDirectory.certificate))")
}

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}

/// The recording `--input` (and `--row`) names.
func readRecording(_ options: Options) throws(CommandFailure) -> (SkeletonSequence, String) {
    if let clip = try options.integer("clip", range: 0...Int(Int32.max)) {
        guard options.values["input"] == nil, options.values["row"] == nil else {
            throw CommandFailure(code: .usage, message: "--clip reads a clip of the test set: give it without --input/--keypoints and --row")
        }
        guard options.values["threshold"] == nil else {
            throw CommandFailure(code: .usage, message: "--threshold applies to a keypoint recording, not to a test clip of 32 frames")
        }
        let source = dataSource(options)
        let (sequence, label) = try testClip(clip, source: source)
        return (sequence, "test clip \(clip) of \(source.description) (label \(HEARTestSet.classNames[label]))")
    }
    let input = URL(fileURLWithPath: try options.required("input"))
    if let row = try options.integer("row", range: 0...Int(Int32.max)) {
        guard options.values["threshold"] == nil else {
            throw CommandFailure(code: .usage, message: "--threshold applies to a keypoint recording, not to a --row of 32 frames")
        }
        do { return (try HEARTestSet.sequence(row: row, of: input), "row \(row) of \(input.relativePath)") } catch { throw failure(error) }
    }
    do { return (try KeypointCSV.read(from: input), input.relativePath) } catch { throw failure(error) }
}

/// A warning on stderr for a recording shorter than `FrameSelection.recommendedMinimumFrames`.
func warnIfShort(_ sequence: SkeletonSequence, source: String) {
    let count = sequence.frames.count
    guard count < FrameSelection.recommendedMinimumFrames else { return }
    FileHandle.standardError.write(Data(("hear: warning: \(source) has \(count) frame\(count == 1 ? "" : "s"); the networks see "
        + "32 frames, so shorter recordings are stretched by repeating frames, and below "
        + "\(FrameSelection.recommendedMinimumFrames) frames the decision is unreliable\n").utf8))
}

func frameThreshold(_ options: Options) throws(CommandFailure) -> Double {
    guard let text = options.values["threshold"] else { return FrameSelection.defaultThreshold }
    guard let value = Double(text), value.isFinite, value >= 0 else {
        throw CommandFailure(code: .usage, message: "--threshold must be a number ≥ 0, got \"\(text)\"")
    }
    return value
}

/// The `--out` files of a command that takes several inputs: one per input, distinct, writable.
func outputFiles(_ options: Options, inputs: Int, inputName: String) throws(CommandFailure) -> [URL] {
    let outs = options.lists["out"] ?? []
    guard !outs.isEmpty else { throw CommandFailure(code: .usage, message: "missing option --out") }
    guard outs.count == inputs else {
        throw CommandFailure(code: .usage, message: "\(inputs) \(inputName)\(inputs == 1 ? "" : "s") and \(outs.count) --out: "
                             + "give one --out per \(inputName), in the same order")
    }
    guard Set(outs).count == outs.count else { throw CommandFailure(code: .usage, message: "the same --out file is given twice") }
    let urls = outs.map { URL(fileURLWithPath: $0) }
    for url in urls { try checkWritable(url) }
    return urls
}

func encrypt(_ arguments: ArraySlice<String>) throws(CommandFailure) {
    let options = try Options(arguments, allowed: ["public-key", "input", "row", "clip", "out", "threshold", "data", "device", "trust"],
                              repeatable: ["input", "clip", "out"])
    let keyURL = URL(fileURLWithPath: try options.required("public-key"))
    _ = try options.required("device")
    let clips = options.lists["clip"] ?? [], inputs = options.lists["input"] ?? []
    let count = max(1, clips.count + inputs.count)
    if count > 1 {
        guard clips.isEmpty || inputs.isEmpty else {
            throw CommandFailure(code: .usage, message: "several recordings: give them all as --clip or all as --input, not both")
        }
        guard options.values["row"] == nil else {
            throw CommandFailure(code: .usage, message: "--row reads one row of one --input: give a single recording with it")
        }
    }
    let outs = try outputFiles(options, inputs: count, inputName: "recording")
    let threshold = try frameThreshold(options)
    // every recording is read before anything is encrypted or written
    var recordings: [(SkeletonSequence, String)] = []
    for index in 0..<count {
        var single = options
        if !clips.isEmpty { single.values["clip"] = clips[index] }
        if !inputs.isEmpty { single.values["input"] = inputs[index] }
        recordings.append(try readRecording(single))
    }
    let (device, camera, firstUse) = try deviceCredentials(options, role: .camera)
    let publicKey: SessionPublicKey
    let keyBytes = try readPartyFile(keyURL, kind: .publicKey)
    do { publicKey = try SessionPublicKey(file: keyBytes, source: keyURL.relativePath, trusting: camera.station, parallelism: commandParallelism) } catch { throw failure(error) }
    var client: Client
    do { client = try Client(publicKey: publicKey) } catch { throw failure(error) }
    print("session   \(publicKey.session.summary)")
    for ((recording, source), out) in zip(recordings, outs) {
        let start = DispatchTime.now().uptimeNanoseconds
        let bytes: [UInt8]
        let sequence: UInt64
        do {
            let ciphertext = try client.encrypt(Client.input(for: recording, threshold: threshold))
            sequence = try device.nextSequence()
            bytes = try ciphertext.serialized(signedBy: camera, sequence: sequence)
        } catch { throw failure(error) }
        let seconds = wallSeconds(since: start)
        try writePartyFile(bytes, to: out)
        print("recording \(recording.frames.count) frames from \(source), 32 selected")
        warnIfShort(recording, source: source)
        print("signed    by camera '\(camera.identity.name)' (\(camera.identity.fingerprint)), sequence number \(sequence); station \(camera.station.fingerprint)")
        print(String(format: "encrypted in %.3f s: %@ (%@, level %d)", seconds, out.relativePath, megabytes(bytes.count), publicKey.session.inputLevel))
    }
    try pinAfterSuccess(device, camera, firstUse: firstUse, trusted: options.values["trust"] != nil)
}

func infer(_ arguments: ArraySlice<String>) throws(CommandFailure) {
    let options = try Options(arguments, allowed: ["model", "eval-keys", "in", "out", "threads", "weights-memory", "data", "device", "trust"],
                              repeatable: ["in", "out"])
    let modelReference = options.values["model"] ?? "default"
    let keysURL = URL(fileURLWithPath: try options.required("eval-keys"))
    let inURLs = (options.lists["in"] ?? []).map { URL(fileURLWithPath: $0) }
    guard !inURLs.isEmpty else { throw CommandFailure(code: .usage, message: "missing option --in") }
    let outs = try outputFiles(options, inputs: inURLs.count, inputName: "input")
    _ = try options.required("device")
    try setThreads(options)
    let weightBudget = try weightBudget(options)
    let (device, cloud, firstUse) = try deviceCredentials(options, role: .cloud)
    let acceptedURL = device.file(DeviceDirectory.accepted)
    var start = DispatchTime.now().uptimeNanoseconds
    let keys: EvaluationKeys
    var accepted: SequenceRegistry
    let keyBytes = try readPartyFile(keysURL, kind: .evaluationKeys)
    do throws(ProtocolError) {
        keys = try EvaluationKeys(file: keyBytes, source: keysURL.relativePath, trusting: cloud.station, parallelism: commandParallelism)
        accepted = try SequenceRegistry.load(acceptedURL)
    } catch { throw failure(error) }
    let loadSeconds = wallSeconds(since: start)
    Progress.note("encoding the weights…")
    let (server, model, modelOrigin) = try cloudServer(modelReference, options, evaluationKeys: keys, weightBudget: weightBudget)
    print("model     \(printable(model.name)) from \(modelOrigin)")
    print("session   \(keys.session.summary)")
    print(String(format: "loaded    evaluation keys (%@) in %.2f s; weights encoded in %.2f s, once for %d input(s)",
                 megabytes(fileSize(keysURL)), loadSeconds, server.weightEncodingSeconds, inURLs.count))
    // each input on its own: a refused input is reported and the others still run
    var failures: [CommandFailure] = []
    for (inURL, out) in zip(inURLs, outs) {
        start = DispatchTime.now().uptimeNanoseconds
        do throws(CommandFailure) {
            let inputBytes = try readPartyFile(inURL, kind: .inputCiphertext)
            let input: SessionCiphertext
            do throws(ProtocolError) {
                input = try SessionCiphertext(file: inputBytes, kind: .inputCiphertext, source: inURL.relativePath, trusting: cloud.station,
                                              context: keys.context)
                try accepted.check(input.origin!, source: inURL.relativePath)
                if let problem = keys.session.mismatch(with: input.session, source: keysURL.relativePath, otherSource: inURL.relativePath) { throw problem }
            } catch { throw failure(error) }
            let readSeconds = wallSeconds(since: start)
            start = DispatchTime.now().uptimeNanoseconds
            let bytes: [UInt8]
            let inferenceSeconds: Double
            do {
                let result = try server.evaluate(input, source: inURL.relativePath).result
                inferenceSeconds = wallSeconds(since: start)
                bytes = try result.serialized(signedBy: cloud)
            } catch { throw failure(error) }
            let seconds = wallSeconds(since: start)
            try writePartyFile(bytes, to: out)
            let origin = input.origin!
            accepted.record(camera: origin.cameraFingerprint, sequence: origin.sequence)
            do { try accepted.save(acceptedURL) } catch { throw failure(error) }
            print("input     \(inURL.relativePath) (\(megabytes(fileSize(inURL))), read in \(String(format: "%.3f", readSeconds)) s) "
                  + "from camera '\(origin.camera)' (\(origin.cameraFingerprint)), sequence number \(origin.sequence)")
            print(String(format: "inference %.3f s on %d thread(s), signed in %.3f s: %@ (%@, level %d)", inferenceSeconds, commandParallelism.threadCount,
                         seconds - inferenceSeconds, out.relativePath, megabytes(bytes.count), keys.session.resultLevel))
        } catch {
            if inURLs.count > 1 { FileHandle.standardError.write(Data("hear: \(error.message)\n".utf8)) }
            failures.append(error)
        }
    }
    if failures.count < inURLs.count {
        print("signed    by cloud server '\(cloud.identity.name)' (\(cloud.identity.fingerprint)), each bound to its input and sequence number")
        try pinAfterSuccess(device, cloud, firstUse: firstUse, trusted: options.values["trust"] != nil)
    }
    if let first = failures.first {
        throw CommandFailure(code: first.code, message: inURLs.count == 1 ? first.message
                             : "\(failures.count) of \(inURLs.count) inputs refused (each said above); the others were evaluated and written")
    }
}

/// The cloud server of `infer` and `serve`: the model `reference` folded, checked against the
/// evaluation keys' plan, its weights encoded (within `weightBudget`); with the model and where it came from.
func cloudServer(_ reference: String, _ options: Options, evaluationKeys keys: EvaluationKeys, weightBudget: Int?)
    throws(CommandFailure) -> (CloudServer, HEARModel, String) {
    let (model, origin) = try loadModel(reference, source: dataSource(options))
    let folded: FoldedNetwork
    do { folded = try FoldedNetwork(folding: model) } catch { throw failure(error) }
    do { return (try CloudServer(network: folded, evaluationKeys: keys, weightBudget: weightBudget), model, origin) } catch { throw failure(error) }
}

/// `--weights-memory`: megabytes or all (nil: every plaintext resident).
func weightBudget(_ options: Options) throws(CommandFailure) -> Int? {
    switch options.values["weights-memory"] {
    case "all": return nil
    case nil: return EncryptedInference.defaultWeightBudget
    case let text?:
        guard let megabytes = Int(text), megabytes >= 0 else {
            throw CommandFailure(code: .usage, message: "--weights-memory takes megabytes (an integer ≥ 0) or all, got \"\(text)\"")
        }
        return megabytes * 1_000_000
    }
}

func decrypt(_ arguments: ArraySlice<String>) throws(CommandFailure) {
    let options = try Options(arguments, allowed: ["secret-key", "in", "identity", "state"], flags: ["raw", "json"])
    let keyURL = URL(fileURLWithPath: try options.required("secret-key"))
    let inURL = URL(fileURLWithPath: try options.required("in"))
    let stateURL = URL(fileURLWithPath: options.values["state"] ?? keyURL.deletingLastPathComponent().appendingPathComponent(KeyFile.accepted).relativePath)
    let station = try loadStation(keyURL, source: keyURL.relativePath, identity: options.values["identity"].map { URL(fileURLWithPath: $0) })
    let resultBytes = try readPartyFile(inURL, kind: .resultCiphertext)
    let raw = options.flags.contains("raw")
    let decision: Decision
    let result: SessionCiphertext
    var scores: [Double]? = nil
    do {
        result = try SessionCiphertext(file: resultBytes, kind: .resultCiphertext, source: inURL.relativePath, trusting: station.trust,
                                       context: station.context)
        var accepted = try SequenceRegistry.load(stateURL)
        try accepted.check(result.origin!, source: inURL.relativePath)
        decision = try station.decide(result, source: inURL.relativePath)
        if raw { scores = try station.decryptScores(result, source: inURL.relativePath) }
        accepted.record(camera: result.origin!.cameraFingerprint, sequence: result.origin!.sequence)
        try accepted.save(stateURL)
    } catch { throw failure(error) }
    let origin = result.origin!
    if raw {
        FileHandle.standardError.write(Data(("hear: warning: --raw prints the exact decrypted scores; they carry the encryption "
            + "noise, from which the secret key can be recovered (Li–Micciancio). Do not release them.\n").utf8))
    }
    if options.flags.contains("json") {
        var object: [String: Any] = [
            "class": decision.className, "classIndex": decision.classIndex, "confidence": jsonConfidence(decision),
            "alert": decision.isAlert, "model": result.session.modelName, "keySet": result.session.keySetID,
            "camera": origin.camera, "cameraFingerprint": origin.cameraFingerprint.hex, "sequence": origin.sequence,
        ]
        if let scores { object["scores"] = Dictionary(uniqueKeysWithValues: zip(station.session.classNames, scores)) }
        print(jsonLine(object))
        return
    }
    print("session   \(result.session.summary)")
    print("verified  camera '\(origin.camera)' (\(origin.cameraFingerprint)) sequence number \(origin.sequence), input \(hexString(origin.inputDigest.prefix(16)));")
    print("          cloud server '\(origin.cloud ?? "?")' (\(origin.cloudFingerprint?.hex ?? "?")); both certified by this station")
    if let scores { print("scores    " + zip(station.session.classNames, scores).map { "\($0) \($1)" }.joined(separator: ", ")) }
    print("decision  \(decision)")
}

func inspect(_ arguments: ArraySlice<String>) throws(CommandFailure) {
    guard arguments.count == 1, let path = arguments.first, !path.hasPrefix("--") else {
        throw CommandFailure(code: .usage, message: "usage: hear inspect <file>")
    }
    let url = URL(fileURLWithPath: path)
    var bytes = try readPartyFile(url)
    defer { bytes.withUnsafeMutableBytes { wipe($0) } }
    guard let kind = PartyFileKind.of(bytes) else {
        throw CommandFailure(code: .dataError, message: ProtocolError.notAPartyFile(source: url.relativePath).description)
    }
    let session: SessionDescriptor
    let read = try protocolStep { () throws(ProtocolError) in try SessionDescriptor.read(from: bytes, source: url.relativePath) }
    session = read.session
    print("file      \(url.relativePath): \(kind.name), \(megabytes(bytes.count))")
    print("signed    by a \(read.signer.title), key \(read.signerFingerprint) (signature valid; who that is, inspect does not judge)"
          + (read.sequence.map { ", sequence number \($0)" } ?? ""))
    print("model     '\(session.modelName)' (\(session.architecture)), fingerprint \(session.modelFingerprint)")
    print("plan      \(session.planSummary)")
    print("CKKS      parameter set '\(session.parameters)' (\(session.parametersFingerprint)); input at level \(session.inputLevel)")
    print("key set   \(session.keySetID)")
}

/// The test clips `hear demo` runs by default: a fall, a walk, a sit and a pick-up, each one the
/// paper's 2D-CNN-64 classifies correctly (a test checks it).
let demoClips = [164, 381, 98, 426]

func demo(_ arguments: ArraySlice<String>) throws(CommandFailure) {
    let options = try Options(arguments, allowed: ["model", "threads", "keep", "data", "clip"], flags: ["synthetic"])
    try setThreads(options)
    let synthetic = options.flags.contains("synthetic")
    if synthetic, let conflict = ["clip", "data"].first(where: { options.values[$0] != nil }) {
        throw CommandFailure(code: .usage, message: "--\(conflict) applies to the test clips, not to the --synthetic recordings")
    }
    let (model, modelOrigin) = try loadModel(options.values["model"] ?? (synthetic ? "synthetic" : "default"), source: dataSource(options))
    // (name, recording, label)
    var recordings: [(name: String, recording: SkeletonSequence, label: String?)] = []
    if synthetic {
        do { recordings = try EmbeddedResources.sampleRecordings().map { ($0.name, $0.recording, nil) } } catch { throw failure(error) }
    } else {
        let testSet = try loadTestSet(dataSource(options))
        var indices = demoClips
        if let text = options.values["clip"] {
            indices = []
            for part in text.split(separator: ",", omittingEmptySubsequences: false) {
                guard let index = Int(part) else {
                    throw CommandFailure(code: .usage, message: "--clip takes clip indices separated by commas, got \"\(printable(String(part)))\"")
                }
                guard index >= 0, index < testSet.count else {
                    throw CommandFailure(code: .usage, message: "--clip \(index) is out of range: the test set has \(testSet.count) clips (0…\(testSet.count - 1))")
                }
                indices.append(index)
            }
        }
        recordings = indices.map { ("clip \($0)", testSet.sequences[$0], HEARTestSet.classNames[testSet.labels[$0]]) }
    }
    let directory: URL
    if let keep = options.values["keep"] {
        directory = URL(fileURLWithPath: keep)
        try checkEmptyDirectory(directory)
        do { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw CommandFailure(code: .cannotCreate, message: "cannot create \(directory.path): \(error.localizedDescription)")
        }
    } else {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("hear-demo-\(UUID().uuidString)")
        do { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700]) } catch {
            throw CommandFailure(code: .cannotCreate, message: "cannot create \(directory.path): \(error.localizedDescription)")
        }
    }
    defer { if options.values["keep"] == nil { try? FileManager.default.removeItem(at: directory) } }
    let folded: FoldedNetwork
    do { folded = try FoldedNetwork(folding: model) } catch { throw failure(error) }
    print("HEAR demo: three parties, files in \(directory.path)")
    print("model     \(printable(model.name)) from \(modelOrigin)")
    if model.name.contains("synthetic") {
        print("          (trained on SYNTHETIC clips: a demonstration of the protocol, not a fall detector for people)")
    }
    print(synthetic ? "clips     the bundled SYNTHETIC recordings" : "clips     real test clips of the paper's data set (skeletons from video, with their labels)")
    print("")

    // 1. monitoring station: keys and identity; the camera and the cloud server enroll and are certified
    let keyDirectory = directory.appendingPathComponent("station")
    var start = DispatchTime.now().uptimeNanoseconds
    let settings = EncryptedSettings(method: .fastHEAR, parameters: .standard(), strategies: [], packing: .auto,
                                     weightBudget: EncryptedInference.defaultWeightBudget)
    Progress.note("generating the keys…")
    let calibration = calibrationInputs(try loadTestSet(dataSource(options))) + recordings.map { Client.input(for: $0.recording) }
    let keys = try writeKeys(folded: folded, settings: settings, calibration: calibration, to: keyDirectory)
    print(String(format: "[station] keygen: %@, key set %@, %.2f s (generation %.2f s)", settings.parameters.name,
                 keys.station.session.keySetID, wallSeconds(since: start), keys.seconds))
    for (name, role) in [(KeyFile.publicKey, "→ camera"), (KeyFile.evaluationKeys, "→ cloud"), (KeyFile.secretKey, "kept (0600)"),
                         (KeyFile.stationKey, "kept (0600), signs everything the station hands out")] {
        print("          \(name.padding(toLength: 22, withPad: " ", startingAt: 0))\(megabytes(fileSize(keyDirectory.appendingPathComponent(name))).leftPadded(10))  \(role)")
    }
    print("[station] identity \(keys.station.identity.fingerprint)")
    let cameraDevice = DeviceDirectory(directory.appendingPathComponent("camera")), cloudDevice = DeviceDirectory(directory.appendingPathComponent("cloud"))
    for (device, role, name) in [(cameraDevice, PartyRole.camera, "demo-camera"), (cloudDevice, PartyRole.cloud, "demo-cloud")] {
        try protocolStep { () throws(ProtocolError) in
            let identity = try DeviceDirectory.create(at: device.url, role: role, name: name)
            let certificate = try Certificate(certifying: identity, by: keys.station.identity)
            try PartyStorage.write(certificate.serialized(), to: device.file(DeviceDirectory.certificate))
            let tag = role == .camera ? "[client] " : "[cloud]  "
            print(tag + " enrolled \(role.title) '\(name)' \(identity.fingerprint), certified by the station")
        }
    }
    let camera = try protocolStep { () throws(ProtocolError) in try cameraDevice.credentials(trust: keys.station.identity.fingerprint).credentials }
    let cloud = try protocolStep { () throws(ProtocolError) in try cloudDevice.credentials(trust: keys.station.identity.fingerprint).credentials }
    try protocolStep { () throws(ProtocolError) in try cameraDevice.pin(camera); try cloudDevice.pin(cloud) }

    // 2. client: encrypt and sign each recording
    let clientDirectory = cameraDevice.url, cloudDirectory = cloudDevice.url
    let publicKey: SessionPublicKey
    let publicKeyBytes = try readPartyFile(keyDirectory.appendingPathComponent(KeyFile.publicKey), kind: .publicKey)
    do { publicKey = try SessionPublicKey(file: publicKeyBytes, source: KeyFile.publicKey, trusting: camera.station, parallelism: commandParallelism) } catch { throw failure(error) }
    var plainDecisions: [String] = []
    func fileName(_ name: String) -> String { name.replacingOccurrences(of: " ", with: "-") }
    for (name, recording, label) in recordings {
        start = DispatchTime.now().uptimeNanoseconds
        let input = Client.input(for: recording)
        let out = clientDirectory.appendingPathComponent("\(fileName(name)).input.hear")
        let file = try protocolStep { () throws(ProtocolError) in
            var client = try Client(publicKey: publicKey)
            return try client.encrypt(input).serialized(signedBy: camera, sequence: try cameraDevice.nextSequence())
        }
        try writePartyFile(file, to: out)
        let selected = recording.frames.count == ActionInput.frames ? "" : " → 32 selected"
        print(String(format: "[client]  %@%@: %d frames%@ → encrypted and signed %@ in %.3f s", name, label.map { " (\($0))" } ?? "",
                     recording.frames.count, selected, megabytes(fileSize(out)), wallSeconds(since: start)))
        let logits = folded.logits(input)
        plainDecisions.append(Decision(scores: logits, classNames: model.classNames, alertClass: keys.station.session.alertClass).className)
    }

    // 3. cloud server: evaluation keys + model, then each input
    start = DispatchTime.now().uptimeNanoseconds
    Progress.note("loading the evaluation keys and encoding the weights…")
    let server: CloudServer
    let evaluationKeyBytes = try readPartyFile(keyDirectory.appendingPathComponent(KeyFile.evaluationKeys), kind: .evaluationKeys)
    do {
        let evaluationKeys = try EvaluationKeys(file: evaluationKeyBytes, source: KeyFile.evaluationKeys, trusting: cloud.station, parallelism: commandParallelism)
        server = try CloudServer(network: folded, evaluationKeys: evaluationKeys)
    } catch { throw failure(error) }
    print(String(format: "[cloud]   verified and loaded the evaluation keys, encoded the weights in %.2f s (%d thread(s))",
                 wallSeconds(since: start), commandParallelism.threadCount))
    for (name, _, _) in recordings {
        let inURL = clientDirectory.appendingPathComponent("\(fileName(name)).input.hear")
        let out = cloudDirectory.appendingPathComponent("\(fileName(name)).result.hear")
        start = DispatchTime.now().uptimeNanoseconds
        let inputBytes = try readPartyFile(inURL, kind: .inputCiphertext)
        let result = try protocolStep { () throws(ProtocolError) in
            let input = try SessionCiphertext(file: inputBytes, kind: .inputCiphertext, source: inURL.lastPathComponent,
                                              trusting: cloud.station, context: server.context)
            return try server.evaluate(input).result.serialized(signedBy: cloud)
        }
        try writePartyFile(result, to: out)
        print(String(format: "[cloud]   %@: inference %.3f s → signed result %@", name, wallSeconds(since: start), megabytes(fileSize(out))))
    }

    // 4. monitoring station: verify, decrypt and decide
    let station = try loadStation(keyDirectory.appendingPathComponent(KeyFile.secretKey), source: KeyFile.secretKey)
    var accepted = SequenceRegistry()
    var correct = 0, labelled = 0
    for (index, (name, _, label)) in recordings.enumerated() {
        let inURL = cloudDirectory.appendingPathComponent("\(fileName(name)).result.hear")
        start = DispatchTime.now().uptimeNanoseconds
        let resultBytes = try readPartyFile(inURL, kind: .resultCiphertext)
        try protocolStep { () throws(ProtocolError) in
            let result = try SessionCiphertext(file: resultBytes, kind: .resultCiphertext, source: inURL.lastPathComponent,
                                               trusting: station.trust, context: station.context)
            guard let origin = result.origin else { throw .damaged(source: inURL.lastPathComponent, reason: "the result names no input") }
            try accepted.check(origin, source: inURL.lastPathComponent)
            let decision = try station.decide(result, source: inURL.lastPathComponent)
            accepted.record(camera: origin.cameraFingerprint, sequence: origin.sequence)
            let seconds = wallSeconds(since: start)
            if let label {
                labelled += 1
                if decision.className == label { correct += 1 }
                print(String(format: "[station] %@ (label %@): %@   (plaintext network: %@; verified and decrypted in %.3f s)", name, label,
                             decision.description, plainDecisions[index], seconds))
            } else {
                print(String(format: "[station] %@: %@   (plaintext network: %@; verified and decrypted in %.3f s)", name, decision.description,
                             plainDecisions[index], seconds))
            }
        }
    }
    if labelled > 0 { print("\n\(correct) of \(labelled) encrypted decisions equal the label") }
    if options.values["keep"] != nil { print("\nfiles kept in \(directory.path)") }
}
