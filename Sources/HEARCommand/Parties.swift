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
    usage: hear keygen [--model <name|dir|file>] --out <dir> [--preset default|seal-style|hear|fast-hear]
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
           hear encrypt --public-key <file> --clip <i> --out <file> [--data <dir>]

      The client's step: turns a recording into the 3 × 32 × 15 network input and encrypts it
      with the public key (at the level and scale of the model's plan).
      --input      a per-frame keypoint CSV of any length (45 numbers per line: x, y, score for the
                   15 joints), reduced to 32 frames by the paper's frame selection; or, with
                   --row, row i (from 0) of a file in the format of the paper's test_inputs.csv
      --clip       clip i (0…607) of the paper's test set (bundled, or from --data)
      --threshold  the frame-selection threshold (default 5 pixels)
      --out        the input ciphertext file (written atomically)
    """

let inferHelp = """
    usage: hear infer [--model <name|dir|file>] --eval-keys <file> --in <file> --out <file>
                      [--threads <n>] [--weights-memory <MB>|all] [--data <dir>]

      The cloud server's step: evaluates the model on an input ciphertext with the evaluation
      keys only, and writes the encrypted result (10 class scores). It refuses a secret key file,
      evaluation keys made for another model or plan, and an input made with other keys.
      --threads, --weights-memory as for `hear evaluate --encrypted`.
    """

let decryptHelp = """
    usage: hear decrypt --secret-key <file> --in <result file> [--raw] [--json]

      The monitoring station's second step: decrypts a result and prints the decision: the class,
      its confidence (softmax probability rounded to 0.01) and the fall alert. Only the rounded
      decision is released by default: exact decrypted values carry the encryption noise, from
      which the secret key can be recovered (Li & Micciancio, EUROCRYPT 2021).
      --raw   also print the decrypted scores at full precision (with a warning on stderr)
      --json  print the decision as one JSON object (class, classIndex, confidence, alert, model,
              keySet; scores with --raw), for scripts
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
    if let contents = try? FileManager.default.contentsOfDirectory(atPath: out.path), !contents.isEmpty {  // before any work
        throw CommandFailure(code: .cannotCreate, message: "cannot write \(out.relativePath): the directory is not empty (it may hold keys; nothing is overwritten)")
    }
    let (model, modelOrigin) = try loadModel(options.values["model"] ?? "default", source: dataSource(options))
    let folded: FoldedNetwork
    do { folded = try FoldedNetwork(folding: model) } catch { throw failure(error) }
    let start = DispatchTime.now().uptimeNanoseconds
    Progress.note("generating the keys…")
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

func encrypt(_ arguments: ArraySlice<String>) throws(CommandFailure) {
    let options = try Options(arguments, allowed: ["public-key", "input", "row", "clip", "out", "threshold", "data"])
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
    warnIfShort(recording, source: source)
    print("session   \(publicKey.session.summary)")
    print(String(format: "encrypted in %.3f s: %@ (%@, level %d)", seconds, out.relativePath, megabytes(bytes.count), publicKey.session.inputLevel))
}

func infer(_ arguments: ArraySlice<String>) throws(CommandFailure) {
    let options = try Options(arguments, allowed: ["model", "eval-keys", "in", "out", "threads", "weights-memory", "data"])
    let modelReference = options.values["model"] ?? "default"
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
    Progress.note("encoding the weights…")
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

func decrypt(_ arguments: ArraySlice<String>) throws(CommandFailure) {
    let options = try Options(arguments, allowed: ["secret-key", "in"], flags: ["raw", "json"])
    let keyURL = URL(fileURLWithPath: try options.required("secret-key"))
    let inURL = URL(fileURLWithPath: try options.required("in"))
    let station = try loadStation(keyURL, source: keyURL.relativePath)
    let result = try step {
        try SessionCiphertext(file: try readPartyFile(inURL), kind: .resultCiphertext, source: inURL.relativePath, context: station.context)
    }
    let raw = options.flags.contains("raw")
    let decision: Decision
    var scores: [Double]? = nil
    do {
        decision = try station.decide(result, source: inURL.relativePath)
        if raw { scores = try station.decryptScores(result, source: inURL.relativePath) }
    } catch { throw failure(error) }
    if raw {
        FileHandle.standardError.write(Data(("hear: warning: --raw prints the exact decrypted scores; they carry the encryption "
            + "noise, from which the secret key can be recovered (Li–Micciancio). Do not release them.\n").utf8))
    }
    if options.flags.contains("json") {
        var object: [String: Any] = [
            "class": decision.className, "classIndex": decision.classIndex, "confidence": Double(String(format: "%.2f", decision.confidence)) ?? decision.confidence,
            "alert": decision.isAlert, "model": result.session.modelName, "keySet": result.session.keySetID,
        ]
        if let scores { object["scores"] = Dictionary(uniqueKeysWithValues: zip(station.session.classNames, scores)) }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        print(String(decoding: data, as: UTF8.self))
        return
    }
    print("session   \(result.session.summary)")
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
    do { session = try SessionDescriptor.read(from: bytes, source: url.relativePath).session } catch { throw failure(error) }
    print("file      \(url.relativePath): \(kind.name), \(megabytes(bytes.count))")
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
    print("model     \(model.name) from \(modelOrigin)")
    if model.name.contains("synthetic") {
        print("          (trained on SYNTHETIC clips: a demonstration of the protocol, not a fall detector for people)")
    }
    print(synthetic ? "clips     the bundled SYNTHETIC recordings" : "clips     real test clips of the paper's data set (skeletons from video, with their labels)")
    print("")

    // 1. monitoring station: keys
    let keyDirectory = directory.appendingPathComponent("station")
    var start = DispatchTime.now().uptimeNanoseconds
    let settings = EncryptedSettings(method: .fastHEAR, parameters: .standard(), strategies: [], packing: .auto,
                                     weightBudget: EncryptedInference.defaultWeightBudget)
    Progress.note("generating the keys…")
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
    func fileName(_ name: String) -> String { name.replacingOccurrences(of: " ", with: "-") }
    for (name, recording, label) in recordings {
        start = DispatchTime.now().uptimeNanoseconds
        let input = Client.input(for: recording)
        let out = clientDirectory.appendingPathComponent("\(fileName(name)).input.hear")
        try step {
            var client = try Client(publicKey: publicKey)
            try writePartyFile(try client.encrypt(input).serialized(), to: out)
        }
        let selected = recording.frames.count == ActionInput.frames ? "" : " → 32 selected"
        print(String(format: "[client]  %@%@: %d frames%@ → encrypted %@ in %.3f s", name, label.map { " (\($0))" } ?? "",
                     recording.frames.count, selected, megabytes(fileSize(out)), wallSeconds(since: start)))
        let logits = folded.logits(input)
        plainDecisions.append(Decision(scores: logits, classNames: model.classNames, alertClass: keys.station.session.alertClass).className)
    }

    // 3. cloud server: evaluation keys + model, then each input
    start = DispatchTime.now().uptimeNanoseconds
    Progress.note("loading the evaluation keys and encoding the weights…")
    let server: CloudServer
    let evaluationKeyBytes = try readPartyFile(keyDirectory.appendingPathComponent(KeyFile.evaluationKeys))
    do {
        let evaluationKeys = try EvaluationKeys(file: evaluationKeyBytes, source: KeyFile.evaluationKeys)
        server = try CloudServer(network: folded, evaluationKeys: evaluationKeys)
    } catch { throw failure(error) }
    print(String(format: "[cloud]   loaded the evaluation keys and encoded the weights in %.2f s (%d thread(s))",
                 wallSeconds(since: start), Parallelism.threadCount))
    for (name, _, _) in recordings {
        let inURL = clientDirectory.appendingPathComponent("\(fileName(name)).input.hear")
        let out = cloudDirectory.appendingPathComponent("\(fileName(name)).result.hear")
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
    var correct = 0, labelled = 0
    for (index, (name, _, label)) in recordings.enumerated() {
        let inURL = cloudDirectory.appendingPathComponent("\(fileName(name)).result.hear")
        start = DispatchTime.now().uptimeNanoseconds
        try step {
            let result = try SessionCiphertext(file: readPartyFile(inURL), kind: .resultCiphertext, source: inURL.lastPathComponent,
                                               context: station.context)
            let decision = try station.decide(result, source: inURL.lastPathComponent)
            let seconds = wallSeconds(since: start)
            if let label {
                labelled += 1
                if decision.className == label { correct += 1 }
                print(String(format: "[station] %@ (label %@): %@   (plaintext network: %@; decrypted in %.3f s)", name, label,
                             decision.description, plainDecisions[index], seconds))
            } else {
                print(String(format: "[station] %@: %@   (plaintext network: %@; decrypted in %.3f s)", name, decision.description,
                             plainDecisions[index], seconds))
            }
        }
    }
    if labelled > 0 { print("\n\(correct) of \(labelled) encrypted decisions equal the label") }
    if options.values["keep"] != nil { print("\nfiles kept in \(directory.path)") }
}
