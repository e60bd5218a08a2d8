// The three parties through files: `hear keygen` (monitoring station), `hear encrypt` (client),
// `hear infer` (cloud server), `hear decrypt` (monitoring station), `hear demo` (all three in
// turn), `hear inspect` (what a file holds, never a secret).
import CKKS
import Dispatch
import Foundation
import HEAR
import HERing
import HETensor

let keygenHelp = """
    usage: hear keygen --model <name|dir|file|default> --out <dir> [--preset default|seal-style|hear|fast-hear]
                       [--method fast-hear|hear] [--strategy auto|full|giant|baby[,…]] [--packing auto|real|complex]
                       [--data <dir>]

      The monitoring station's first step: compiles the model into its encrypted plan and
      generates a fresh key set from system entropy. Writes into <dir>, which must not exist or
      be empty (keys are never overwritten); the directory (mode 0700) appears whole or not at all:
        parameters.hear       the session: model fingerprint, plan, CKKS parameter set (public)
        public-key.hear       for the clients (cameras)
        evaluation-keys.hear  for the cloud server: the relinearization key and exactly the
                              plan's Galois keys, each up to the level where it is used
        secret-key.hear       stays at the station (mode 0600)
      --model, --method, --strategy, --packing, --preset as for `hear evaluate --encrypted`.
    """

let encryptHelp = """
    usage: hear encrypt --public-key <file> --input <keypoints.csv> --out <file> [--threshold <pixels>]
           hear encrypt --public-key <file> --input <test_inputs.csv> --row <i> --out <file>

      The client's step: turns a recording into the 3 × 32 × 15 network input and encrypts it
      with the public key (at the level and scale of the model's plan).
      --input      a per-frame keypoint CSV of any length (45 numbers per line: x, y, score for the
                   15 joints), reduced to 32 frames by the paper's frame selection; or, with
                   --row, row i (from 0) of a file in the format of the paper's test_inputs.csv
      --threshold  the frame-selection threshold (default 5 pixels)
      --out        the input ciphertext file (written atomically)
    """

let inferHelp = """
    usage: hear infer --model <name|dir|file|default> --eval-keys <file> --in <file> --out <file>
                      [--threads <n>] [--weights-memory <MB>|all] [--data <dir>]

      The cloud server's step: evaluates the model on an input ciphertext with the evaluation
      keys only, and writes the encrypted result (10 class scores). It refuses a secret key file,
      evaluation keys made for another model or plan, and an input made with other keys.
      --threads, --weights-memory as for `hear evaluate --encrypted`.
    """

let decryptHelp = """
    usage: hear decrypt --secret-key <file> --in <result file> [--raw]

      The monitoring station's second step: decrypts a result and prints the decision: the class,
      its confidence (softmax probability rounded to 0.01) and the fall alert. Only the rounded
      decision is released by default: exact decrypted values carry the encryption noise, from
      which the secret key can be recovered (Li & Micciancio, EUROCRYPT 2021).
      --raw  also print the decrypted scores at full precision (with a warning on stderr)
    """

let demoHelp = """
    usage: hear demo [--model <name|dir|file|default>] [--threads <n>] [--keep <dir>] [--data <dir>]

      Runs the three parties in turn through files in a temporary directory: the monitoring
      station generates the keys; the client encrypts each bundled sample recording; the cloud
      server evaluates; the station decrypts and decides. Prints each step with its sizes and
      times, and the plaintext network's decision beside the encrypted one. By default it uses
      the embedded model (trained on SYNTHETIC clips) and the bundled SYNTHETIC recordings, so
      it needs nothing but the build.
      --keep  keep the files in this directory (must not exist or be empty) instead of deleting them
    """

let inspectHelp = """
    usage: hear inspect <file>

      Says what a HEAR key or ciphertext file holds: its kind, the model plan and the parameter
      set it belongs to, and its size. Never prints key material.
    """

func failure(_ error: ProtocolError) -> CommandFailure {
    switch error {
    case .cannotRead: return CommandFailure(code: .noInput, message: error.description)
    case .cannotWrite: return CommandFailure(code: .cannotCreate, message: error.description)
    default: return CommandFailure(code: .dataError, message: error.description)
    }
}

/// Runs one step of a party, as a command failure whatever went wrong (protocol, data, command).
func step<T>(_ body: () throws -> T) throws(CommandFailure) -> T {
    do { return try body() } catch let error as CommandFailure { throw error } catch let error as ProtocolError {
        throw failure(error)
    } catch let error as DataError { throw failure(error) } catch {
        throw CommandFailure(code: .dataError, message: "\(error)")
    }
}

/// The monitoring station from its secret key file (the file's bytes are wiped once read).
func loadStation(_ url: URL, source: String) throws(CommandFailure) -> MonitoringStation {
    var bytes = try readPartyFile(url)
    defer { bytes.withUnsafeMutableBytes { wipe($0) } }
    do { return try MonitoringStation(secretKeyFile: bytes, source: source) } catch { throw failure(error) }
}

func readPartyFile(_ url: URL) throws(CommandFailure) -> [UInt8] {
    do { return try PartyStorage.read(url) } catch { throw failure(error) }
}

func writePartyFile(_ bytes: [UInt8], to url: URL, permissions: UInt16 = 0o644) throws(CommandFailure) {
    do { try PartyStorage.write(bytes, to: url, permissions: permissions) } catch { throw failure(error) }
}

/// The file names `hear keygen` writes.
enum KeyFile {
    static let parameters = "parameters.hear", publicKey = "public-key.hear", evaluationKeys = "evaluation-keys.hear",
               secretKey = "secret-key.hear"
}

/// Generates a key set and writes the key directory; returns the key generation.
func writeKeys(folded: FoldedNetwork, settings: EncryptedSettings, to out: URL) throws(CommandFailure) -> MonitoringStation.KeyGeneration {
    let keys: MonitoringStation.KeyGeneration
    do {
        keys = try MonitoringStation.generateKeys(for: folded, method: settings.method, strategies: settings.strategies,
                                                  packing: settings.packing, parameters: settings.parameters)
    } catch { throw CommandFailure(code: .usage, message: error.description) }
    var secret = keys.station.secretKeyFile()
    defer { secret.withUnsafeMutableBytes { wipe($0) } }
    do {
        try PartyStorage.writeDirectory([(KeyFile.parameters, keys.parameters.serialized(), 0o644),
                                         (KeyFile.publicKey, try keys.publicKey.serialized(), 0o644),
                                         (KeyFile.evaluationKeys, try keys.evaluationKeys.serialized(), 0o644),
                                         (KeyFile.secretKey, secret, 0o600)], to: out)
    } catch { throw failure(error) }
    return keys
}

func fileSize(_ url: URL) -> Int {
    ((try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? NSNumber)?.intValue ?? 0
}

func keygen(_ arguments: ArraySlice<String>) throws(CommandFailure) {
    let options = try Options(arguments, allowed: ["model", "out", "preset", "method", "strategy", "packing", "data"])
    let out = URL(fileURLWithPath: try options.required("out"))
    let settings = try EncryptedSettings(options)
    let (model, modelOrigin) = try loadModel(try options.required("model"), source: dataSource(options))
    let folded: FoldedNetwork
    do { folded = try FoldedNetwork(folding: model) } catch { throw failure(error) }
    let start = DispatchTime.now().uptimeNanoseconds
    let keys = try writeKeys(folded: folded, settings: settings, to: out)
    let session = keys.station.session
    print("model     \(model.name) from \(modelOrigin), fingerprint \(session.modelFingerprint)")
    print("plan      \(session.planSummary)")
    print("preset    \(settings.parameters.description)")
    print(String(format: "keys      generated in %.2f s, written in %.2f s: key set %@", keys.seconds, wallSeconds(since: start) - keys.seconds,
                 session.keySetID))
    for (name, role) in [(KeyFile.parameters, "the session (public)"), (KeyFile.publicKey, "for the clients"),
                         (KeyFile.evaluationKeys, "for the cloud server (\(keys.evaluationKeys.galoisKeys.entries.count) Galois keys + relinearization)"),
                         (KeyFile.secretKey, "stays here, mode 0600")] {
        print("  " + out.appendingPathComponent(name).relativePath.padding(toLength: max(24, out.relativePath.count + 22), withPad: " ", startingAt: 0)
              + megabytes(fileSize(out.appendingPathComponent(name))).leftPadded(10) + "  " + role)
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}

/// The recording `--input` (and `--row`) names.
func readRecording(_ options: Options) throws(CommandFailure) -> (SkeletonSequence, String) {
    let input = URL(fileURLWithPath: try options.required("input"))
    return try step {
        if let row = try options.integer("row", range: 0...Int(Int32.max)) {
            guard options.values["threshold"] == nil else {
                throw CommandFailure(code: .usage, message: "--threshold applies to a keypoint recording, not to a --row of 32 frames")
            }
            return (try HEARTestSet.sequence(row: row, of: input), "row \(row) of \(input.relativePath)")
        }
        return (try KeypointCSV.read(from: input), input.relativePath)
    }
}

func frameThreshold(_ options: Options) throws(CommandFailure) -> Double {
    guard let text = options.values["threshold"] else { return FrameSelection.defaultThreshold }
    guard let value = Double(text), value.isFinite, value >= 0 else {
        throw CommandFailure(code: .usage, message: "--threshold must be a number ≥ 0, got \"\(text)\"")
    }
    return value
}

func encrypt(_ arguments: ArraySlice<String>) throws(CommandFailure) {
    let options = try Options(arguments, allowed: ["public-key", "input", "row", "out", "threshold"])
    let keyURL = URL(fileURLWithPath: try options.required("public-key"))
    let out = URL(fileURLWithPath: try options.required("out"))
    let threshold = try frameThreshold(options)
    try checkWritable(out)
    let (recording, source) = try readRecording(options)
    let publicKey: SessionPublicKey
    let keyBytes = try readPartyFile(keyURL)
    do { publicKey = try SessionPublicKey(file: keyBytes, source: keyURL.relativePath) } catch { throw failure(error) }
    let start = DispatchTime.now().uptimeNanoseconds
    let bytes: [UInt8]
    do {
        var client = try Client(publicKey: publicKey)
        bytes = try client.encrypt(Client.input(for: recording, threshold: threshold)).serialized()
    } catch { throw failure(error) }
    let seconds = wallSeconds(since: start)
    try writePartyFile(bytes, to: out)
    print("recording \(recording.frames.count) frames from \(source), 32 selected")
    print("session   \(publicKey.session.summary)")
    print(String(format: "encrypted in %.3f s: %@ (%@, level %d)", seconds, out.relativePath, megabytes(bytes.count), publicKey.session.inputLevel))
}

func infer(_ arguments: ArraySlice<String>) throws(CommandFailure) {
    let options = try Options(arguments, allowed: ["model", "eval-keys", "in", "out", "threads", "weights-memory", "data"])
    let modelReference = try options.required("model")
    let keysURL = URL(fileURLWithPath: try options.required("eval-keys"))
    let inURL = URL(fileURLWithPath: try options.required("in"))
    let out = URL(fileURLWithPath: try options.required("out"))
    try setThreads(options)
    let weightBudget = try weightBudget(options)
    try checkWritable(out)
    var start = DispatchTime.now().uptimeNanoseconds
    let keys: EvaluationKeys
    let input: SessionCiphertext
    let keyBytes = try readPartyFile(keysURL), inputBytes = try readPartyFile(inURL)
    do throws(ProtocolError) {
        keys = try EvaluationKeys(file: keyBytes, source: keysURL.relativePath)
        input = try SessionCiphertext(file: inputBytes, kind: .inputCiphertext, source: inURL.relativePath, context: keys.context)
        if let problem = keys.session.mismatch(with: input.session, source: keysURL.relativePath, otherSource: inURL.relativePath) { throw problem }
    } catch { throw failure(error) }
    let loadSeconds = wallSeconds(since: start)
    let (model, modelOrigin) = try loadModel(modelReference, source: dataSource(options))
    let folded: FoldedNetwork
    do { folded = try FoldedNetwork(folding: model) } catch { throw failure(error) }
    let server: CloudServer
    do { server = try CloudServer(network: folded, evaluationKeys: keys, weightBudget: weightBudget) } catch { throw failure(error) }
    start = DispatchTime.now().uptimeNanoseconds
    let bytes: [UInt8]
    do { bytes = try server.evaluate(input, source: inURL.relativePath).result.serialized() } catch { throw failure(error) }
    let seconds = wallSeconds(since: start)
    try writePartyFile(bytes, to: out)
    print("model     \(model.name) from \(modelOrigin)")
    print("session   \(keys.session.summary)")
    print(String(format: "loaded    evaluation keys (%@) and input (%@) in %.2f s; weights encoded in %.2f s",
                 megabytes(fileSize(keysURL)), megabytes(fileSize(inURL)), loadSeconds, server.weightEncodingSeconds))
    print(String(format: "inference %.3f s on %d thread(s): %@ (%@, level 0)", seconds, Parallelism.threadCount, out.relativePath, megabytes(bytes.count)))
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

/// Prints a decision (and, with `raw`, the scores after a warning on stderr).
func printDecision(_ station: MonitoringStation, _ result: SessionCiphertext, source: String, raw: Bool) throws(CommandFailure) {
    do {
        if raw {
            FileHandle.standardError.write(Data(("hear: warning: --raw prints the exact decrypted scores; they carry the encryption "
                + "noise, from which the secret key can be recovered (Li–Micciancio). Do not release them.\n").utf8))
            let scores = try station.decryptScores(result, source: source)
            print("scores    " + zip(station.session.classNames, scores).map { "\($0) \($1)" }.joined(separator: ", "))
        }
        print("decision  \(try station.decide(result, source: source))")
    } catch { throw failure(error) }
}

func decrypt(_ arguments: ArraySlice<String>) throws(CommandFailure) {
    let options = try Options(arguments, allowed: ["secret-key", "in"], flags: ["raw"])
    let keyURL = URL(fileURLWithPath: try options.required("secret-key"))
    let inURL = URL(fileURLWithPath: try options.required("in"))
    let station = try loadStation(keyURL, source: keyURL.relativePath)
    let result = try step {
        try SessionCiphertext(file: try readPartyFile(inURL), kind: .resultCiphertext, source: inURL.relativePath, context: station.context)
    }
    print("session   \(result.session.summary)")
    try printDecision(station, result, source: inURL.relativePath, raw: options.flags.contains("raw"))
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
    do { session = try SessionDescriptor.read(from: bytes, source: url.relativePath).session } catch { throw failure(error) }
    print("file      \(url.relativePath): \(kind.name), \(megabytes(bytes.count))")
    print("model     '\(session.modelName)' (\(session.architecture)), fingerprint \(session.modelFingerprint)")
    print("plan      \(session.planSummary)")
    print("CKKS      parameter set '\(session.parameters)' (\(session.parametersFingerprint)); input at level \(session.inputLevel)")
    print("key set   \(session.keySetID)")
}

func demo(_ arguments: ArraySlice<String>) throws(CommandFailure) {
    let options = try Options(arguments, allowed: ["model", "threads", "keep", "data"])
    try setThreads(options)
    let (model, modelOrigin) = try loadModel(options.values["model"] ?? "default", source: dataSource(options))
    let recordings: [(name: String, recording: SkeletonSequence)]
    do { recordings = try EmbeddedResources.sampleRecordings() } catch { throw failure(error) }
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
    print("model     \(model.name) from \(modelOrigin)")
    if model.name.contains("synthetic") {
        print("          (trained on SYNTHETIC clips: a demonstration of the protocol, not a fall detector for people)")
    }
    print("")

    // 1. monitoring station: keys
    let keyDirectory = directory.appendingPathComponent("station")
    var start = DispatchTime.now().uptimeNanoseconds
    let settings = EncryptedSettings(method: .fastHEAR, parameters: .standard(), strategies: [], packing: .auto,
                                     weightBudget: EncryptedInference.defaultWeightBudget)
    let keys = try writeKeys(folded: folded, settings: settings, to: keyDirectory)
    print(String(format: "[station] keygen: %@, key set %@, %.2f s (generation %.2f s)", settings.parameters.name,
                 keys.station.session.keySetID, wallSeconds(since: start), keys.seconds))
    for (name, role) in [(KeyFile.publicKey, "→ client"), (KeyFile.evaluationKeys, "→ cloud"), (KeyFile.secretKey, "kept (0600)")] {
        print("          \(name.padding(toLength: 22, withPad: " ", startingAt: 0))\(megabytes(fileSize(keyDirectory.appendingPathComponent(name))).leftPadded(10))  \(role)")
    }

    // 2. client: encrypt each recording
    let clientDirectory = directory.appendingPathComponent("client"), cloudDirectory = directory.appendingPathComponent("cloud")
    for d in [clientDirectory, cloudDirectory] { try? FileManager.default.createDirectory(at: d, withIntermediateDirectories: false) }
    let publicKey: SessionPublicKey
    let publicKeyBytes = try readPartyFile(keyDirectory.appendingPathComponent(KeyFile.publicKey))
    do { publicKey = try SessionPublicKey(file: publicKeyBytes, source: KeyFile.publicKey) } catch { throw failure(error) }
    var plainDecisions: [String] = []
    for (name, recording) in recordings {
        start = DispatchTime.now().uptimeNanoseconds
        let input = Client.input(for: recording)
        let out = clientDirectory.appendingPathComponent("\(name).input.hear")
        try step {
            var client = try Client(publicKey: publicKey)
            try writePartyFile(try client.encrypt(input).serialized(), to: out)
        }
        print(String(format: "[client]  %@: %d frames → 32 selected → encrypted %@ in %.3f s", name, recording.frames.count,
                     megabytes(fileSize(out)), wallSeconds(since: start)))
        let logits = folded.logits(input)
        plainDecisions.append(Decision(scores: logits, classNames: model.classNames, alertClass: keys.station.session.alertClass).className)
    }

    // 3. cloud server: evaluation keys + model, then each input
    start = DispatchTime.now().uptimeNanoseconds
    let server: CloudServer
    let evaluationKeyBytes = try readPartyFile(keyDirectory.appendingPathComponent(KeyFile.evaluationKeys))
    do {
        let evaluationKeys = try EvaluationKeys(file: evaluationKeyBytes, source: KeyFile.evaluationKeys)
        server = try CloudServer(network: folded, evaluationKeys: evaluationKeys)
    } catch { throw failure(error) }
    print(String(format: "[cloud]   loaded the evaluation keys and encoded the weights in %.2f s (%d thread(s))",
                 wallSeconds(since: start), Parallelism.threadCount))
    for (name, _) in recordings {
        let inURL = clientDirectory.appendingPathComponent("\(name).input.hear"), out = cloudDirectory.appendingPathComponent("\(name).result.hear")
        start = DispatchTime.now().uptimeNanoseconds
        try step {
            let input = try SessionCiphertext(file: readPartyFile(inURL), kind: .inputCiphertext, source: inURL.lastPathComponent,
                                              context: server.context)
            try writePartyFile(try server.evaluate(input).result.serialized(), to: out)
        }
        print(String(format: "[cloud]   %@: inference %.3f s → result %@", name, wallSeconds(since: start), megabytes(fileSize(out))))
    }

    // 4. monitoring station: decrypt and decide
    let station = try loadStation(keyDirectory.appendingPathComponent(KeyFile.secretKey), source: KeyFile.secretKey)
    for (index, (name, _)) in recordings.enumerated() {
        let inURL = cloudDirectory.appendingPathComponent("\(name).result.hear")
        try step {
            let result = try SessionCiphertext(file: readPartyFile(inURL), kind: .resultCiphertext, source: inURL.lastPathComponent,
                                               context: station.context)
            let decision = try station.decide(result, source: inURL.lastPathComponent)
            print("[station] \(name): \(decision)   (plaintext network: \(plainDecisions[index]))")
        }
    }
    if options.values["keep"] != nil { print("\nfiles kept in \(directory.path)") }
}
