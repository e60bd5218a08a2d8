// Continuous monitoring through a spool directory: `hear monitor` (camera), `hear serve` (cloud
// workers), `hear watch` (monitoring station), and `hear make-stream` (a stream of real test clips
// with its labels, for trying and measuring the three). Every line these write on stdout is one
// JSON object with an "event" field; messages for people go to stderr.
#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import CKKS
import Dispatch
import Foundation
import HEAR
import HEARCrypto
import HERing

let monitorHelp = """
    usage: hear monitor --device <dir> --public-key <file> --spool <dir> [--input <file>|-]
                        [--window <frames>] [--stride <frames>] [--threshold <pixels>] [--realtime] [--trust <fp>]

      The camera, continuously: reads a stream of skeleton frames, keeps the last --window frames
      (default 32) and every --stride frames (default 16) turns the window into the network input
      (the client's frame selection and preprocessing), encrypts it, signs it with the camera's
      next sequence number and the capture times of its first and last frame, and puts it into
      <spool>/jobs/. Stops at the end of the stream, or on SIGTERM/SIGINT after the current window.
      Stream format (stdin, or --input <file>): one frame per line,
          <time>,<x1>,<y1>,<score1>,…,<x15>,<y15>,<score15>
      46 numbers: the time in seconds (increasing), then the 15 joints in the order of the paper's
      data. Blank lines and lines starting with # are ignored. A bad frame (another count of
      values, a value that is not a finite number, a time not after the previous frame's) is
      skipped with a warning and counted; it never stops the stream.
      --realtime  pace the frames by their times (for a recorded stream played back)
      Prints one JSON line per window (sequence, capture times, frames) and a summary at the end.
    """

let serveHelp = """
    usage: hear serve --device <dir> --eval-keys <file> --spool <dir> [--model <name|dir|file>]
                      [--worker <name>] [--lease <s>] [--max-attempts <n>] [--poll <s>] [--idle-exit <s>]
                      [--threads <n>] [--weights-memory <MB>|all] [--trust <fp>] [--data <dir>]

      A cloud worker: loads the evaluation keys and encodes the weights once, then takes jobs from
      <spool>/jobs/ and writes signed results into <spool>/results/. Any number of workers may share
      a spool (on one machine or a shared file system): a job is claimed by renaming it into
      <spool>/claimed/ (one worker wins), a result is published only if its window has none yet.
      While a worker evaluates, it renews its claim; a claim not renewed for --lease seconds
      (default 30: the worker died) is put back for another worker, at most --max-attempts times
      (default 3). A job that is not a valid input (bad signature, another key set, damaged) is
      moved to <spool>/failed/ with a .reason.txt beside it and never retried.
      SIGTERM or SIGINT: finishes the current job, then stops.
      --worker     the name in claims and logs (default: <host>-<pid>)
      --poll       seconds between looks at an empty spool (default 0.2)
      --idle-exit  stop after this many seconds without a job (default: run until stopped)
      Prints one JSON line per job (result, failed, requeued, duplicate) and one when it stops.
    """

let watchHelp = """
    usage: hear watch --secret-key <file> --spool <dir> [--alert <k>/<n>] [--cool-down <s>]
                      [--identity <station.key>] [--state <file>] [--gap-timeout <s>] [--poll <s>]
                      [--idle-exit <s>] [--windows <n>]

      The monitoring station, continuously: verifies and decrypts each result in <spool>/results/
      (the cloud worker's and the camera's signatures, both certified by this station; a sequence
      number never accepted before), and per camera in sequence order prints one JSON line per
      window: time, class, confidence. It raises an alert — a JSON line with "event": "alert" —
      when at least k of the last n windows say fall (--alert, default 1/2), then no other alert
      for that camera for --cool-down seconds of capture time (default 10), so that one fall
      gives one alert. Decided results move to <spool>/decided/; refused ones to <spool>/failed/.
      A window whose result does not come (its job failed, or --gap-timeout seconds passed,
      default 30, while later windows arrived) is reported as missing and skipped.
      --state      the accepted sequence numbers (default: accepted-sequences.json beside the key)
      --idle-exit  stop after this many seconds without a new result (default: run until stopped)
      --windows    stop after deciding this many windows
      SIGTERM or SIGINT: stops after the current result.
    """

let makeStreamHelp = """
    usage: hear make-stream --clips <i,j,…|all> --out <file> [--labels <file>] [--fps <n>] [--data <dir>]

      Writes a stream of frames for `hear monitor` by concatenating clips of the paper's test set
      (real recordings, 32 frames each) in the order given, at --fps frames per second (default
      30). --labels writes one JSON line per clip: clip, label, first and last frame, and their
      times, to score the station's alerts against.
    """

/// SIGTERM and SIGINT set a flag that the loops look at between jobs (the job in progress ends
/// normally).
final class StopRequest: @unchecked Sendable {
    private let lock = NSLock()
    private var signalName: String?
    private var sources: [DispatchSourceSignal] = []

    /// The signal that asked to stop, if one did.
    var requested: String? { lock.lock(); defer { lock.unlock() }; return signalName }

    static func install() -> StopRequest {
        let request = StopRequest()
        for (number, name) in [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT")] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { request.lock.lock(); request.signalName = request.signalName ?? name; request.lock.unlock() }
            source.resume()
            request.sources.append(source)
        }
        return request
    }
}

/// One JSON object as one line, keys sorted.
func jsonLine(_ object: [String: Any]) -> String {
    String(decoding: (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8), as: UTF8.self)
}

/// One JSON object on one line of stdout.
func emitEvent(_ object: [String: Any]) { print(jsonLine(object)) }

/// A decision's released confidence as a JSON number with exactly its two decimals.
func jsonConfidence(_ decision: Decision) -> Double { Double(String(format: "%.2f", decision.confidence)) ?? decision.confidence }

func unixTime() -> Double { Date().timeIntervalSince1970 }

/// A number of seconds from `--name` (≥ 0, finite), or `defaultValue`.
func secondsOption(_ options: Options, _ name: String, default defaultValue: Double?) throws(CommandFailure) -> Double? {
    guard let text = options.values[name] else { return defaultValue }
    guard let value = Double(text), value.isFinite, value >= 0, value <= 1e9 else {
        throw CommandFailure(code: .usage, message: "--\(name) takes seconds (a number ≥ 0), got \"\(printable(text))\"")
    }
    return value
}

/// The spool directory of `--spool`, created if needed.
func spoolOption(_ options: Options) throws(CommandFailure) -> JobSpool {
    let spool = JobSpool(URL(fileURLWithPath: try options.required("spool")))
    try protocolStep { () throws(ProtocolError) in try spool.create() }
    return spool
}

/// Lines of a file descriptor, read in blocks; an overlong line is cut (the reader then refuses it).
struct LineReader {
    let descriptor: Int32
    var buffer: [UInt8] = []
    var finished = false
    static let cap = FrameStreamReader.maximumLineBytes + 1

    mutating func next() -> String? {
        while true {
            if let newline = buffer.firstIndex(of: 10) {
                var line = Array(buffer[..<newline])
                buffer.removeSubrange(...newline)
                if line.last == 13 { line.removeLast() }
                return String(decoding: line.prefix(Self.cap), as: UTF8.self)
            }
            if finished {
                guard !buffer.isEmpty else { return nil }
                defer { buffer = [] }
                return String(decoding: buffer.prefix(Self.cap), as: UTF8.self)
            }
            var block = [UInt8](repeating: 0, count: 65536)
            let count = block.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { finished = true; continue }
            buffer += block[..<count]
            if buffer.count > 1 << 20, buffer.firstIndex(of: 10) == nil {
                buffer = Array(buffer.prefix(Self.cap)) + [10] // keep the start of an endless line: refused as too long
            }
        }
    }
}

func monitor(_ arguments: ArraySlice<String>) throws(CommandFailure) {
    let options = try Options(arguments, allowed: ["device", "public-key", "spool", "input", "window", "stride", "threshold", "trust"],
                              flags: ["realtime"])
    let keyURL = URL(fileURLWithPath: try options.required("public-key"))
    _ = try options.required("device")
    let length = try options.integer("window", range: 1...4096) ?? ActionInput.frames
    let stride = try options.integer("stride", range: 1...4096) ?? 16
    let threshold = try frameThreshold(options)
    let realtime = options.flags.contains("realtime")
    var window = try protocolStep { () throws(ProtocolError) in try SlidingWindow(length: length, stride: stride) }
    let spool = try spoolOption(options)
    let (device, camera, firstUse) = try deviceCredentials(options, role: .camera)
    let keyBytes = try readPartyFile(keyURL, kind: .publicKey)
    let publicKey: SessionPublicKey
    var client: Client
    do {
        publicKey = try SessionPublicKey(file: keyBytes, source: keyURL.relativePath, trusting: camera.station, parallelism: commandParallelism)
        client = try Client(publicKey: publicKey)
    } catch { throw failure(error) }
    let descriptor: Int32
    let inputName: String
    if let path = options.values["input"], path != "-" {
        descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw CommandFailure(code: .noInput, message: "cannot read \(path): \(String(cString: strerror(errno)))") }
        inputName = path
    } else {
        descriptor = 0
        inputName = "stdin"
    }
    defer { if descriptor != 0 { close(descriptor) } }
    try pinAfterSuccess(device, camera, firstUse: firstUse, trusted: options.values["trust"] != nil)
    let stop = StopRequest.install()
    var lines = LineReader(descriptor: descriptor)
    var reader = FrameStreamReader()
    var pace: (wall: Double, stream: Double)? = nil
    emitEvent(["event": "start", "camera": camera.identity.name, "cameraFingerprint": camera.identity.fingerprint.hex, "input": inputName,
               "window": length, "stride": stride, "wall": unixTime(), "session": publicKey.session.keySetID])
    var windows = 0
    while stop.requested == nil, let line = lines.next() {
        switch reader.read(line) {
        case .ignored: continue
        case let .skipped(reason):
            FileHandle.standardError.write(Data("hear: \(inputName), line \(reader.lineNumber): bad frame skipped: \(reason)\n".utf8))
        case let .frame(frame):
            if realtime {
                if let pace {
                    let delay = pace.wall + (frame.time - pace.stream) - unixTime()
                    if delay > 0 { usleep(useconds_t(min(delay, 3600) * 1e6)) }
                } else {
                    pace = (unixTime(), frame.time)
                }
            }
            guard let (frames, first) = window.append(frame) else { continue }
            let start = DispatchTime.now().uptimeNanoseconds
            let captured = CaptureWindow(start: frames[0].time, end: frames[frames.count - 1].time)
            let (name, sequence) = try protocolStep { () throws(ProtocolError) in
                let input = Client.input(for: SkeletonSequence(frames: frames.map(\.frame)), threshold: threshold)
                let ciphertext = try client.encrypt(input)
                let sequence = try device.nextSequence()
                let bytes = try ciphertext.serialized(signedBy: camera, sequence: sequence, captured: captured)
                return (try spool.submit(bytes, camera: camera.identity.fingerprint, sequence: sequence), sequence)
            }
            windows += 1
            emitEvent(["event": "window", "sequence": sequence, "start": captured.start, "end": captured.end,
                       "frames": [first, first + length - 1], "job": name, "seconds": wallSeconds(since: start), "wall": unixTime()])
        }
    }
    var end: [String: Any] = ["event": "end", "frames": reader.frameCount, "skipped": reader.skippedCount, "windows": windows, "wall": unixTime()]
    if let signal = stop.requested { end["stoppedBy"] = signal }
    emitEvent(end)
    if reader.skippedCount > 0 {
        FileHandle.standardError.write(Data("hear: \(reader.skippedCount) bad frame(s) skipped of \(reader.frameCount + reader.skippedCount)\n".utf8))
    }
}

func serve(_ arguments: ArraySlice<String>) throws(CommandFailure) {
    let options = try Options(arguments, allowed: ["device", "eval-keys", "spool", "model", "worker", "lease", "max-attempts", "poll",
                                                   "idle-exit", "threads", "weights-memory", "trust", "data"])
    let keysURL = URL(fileURLWithPath: try options.required("eval-keys"))
    _ = try options.required("device")
    try setThreads(options)
    let weightBudget = try weightBudget(options)
    let lease = try secondsOption(options, "lease", default: 30)!
    guard lease >= 1 else { throw CommandFailure(code: .usage, message: "--lease must be at least 1 second") }
    let poll = max(0.01, try secondsOption(options, "poll", default: 0.2)!)
    let idleExit = try secondsOption(options, "idle-exit", default: nil)
    let maximumAttempts = try options.integer("max-attempts", range: 1...100) ?? 3
    let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "worker"
    let worker = options.values["worker"] ?? "\(host.filter { $0.isLetter || $0.isNumber || $0 == "-" }.prefix(40))-\(getpid())"
    guard JobSpool.isValidWorkerName(worker) else {
        throw CommandFailure(code: .usage, message: "--worker is 1–64 letters, digits, '.', '_' or '-', got \"\(printable(worker))\"")
    }
    let spool = try spoolOption(options)
    let (device, cloud, firstUse) = try deviceCredentials(options, role: .cloud)
    let start = DispatchTime.now().uptimeNanoseconds
    let keyBytes = try readPartyFile(keysURL, kind: .evaluationKeys)
    let keys: EvaluationKeys
    do { keys = try EvaluationKeys(file: keyBytes, source: keysURL.relativePath, trusting: cloud.station, parallelism: commandParallelism) } catch { throw failure(error) }
    let (server, model, _) = try cloudServer(options.values["model"] ?? "default", options, evaluationKeys: keys, weightBudget: weightBudget)
    try pinAfterSuccess(device, cloud, firstUse: firstUse, trusted: options.values["trust"] != nil)
    let stop = StopRequest.install()
    emitEvent(["event": "ready", "worker": worker, "model": model.name, "session": keys.session.keySetID, "threads": commandParallelism.threadCount,
               "loadSeconds": wallSeconds(since: start), "wall": unixTime(), "pid": Int(getpid())])
    var done = 0, failed = 0
    var idleSince = unixTime()
    var stoppedBy = "idle"
    while true {
        if let signal = stop.requested { stoppedBy = signal; break }
        let (requeued, abandoned) = spool.requeueExpired(lease: lease, maximumAttempts: maximumAttempts)
        for job in requeued { emitEvent(["event": "requeued", "worker": worker, "job": job, "wall": unixTime()]) }
        for job in abandoned { emitEvent(["event": "abandoned", "worker": worker, "job": job, "wall": unixTime()]) }
        guard let claim = spool.claimNext(worker: worker) else {
            if let idleExit, unixTime() - idleSince >= idleExit { break }
            usleep(useconds_t(poll * 1e6))
            continue
        }
        let jobStart = DispatchTime.now().uptimeNanoseconds
        // the lease: renewed four times per period while the job runs
        let renewal = DispatchSource.makeTimerSource(queue: .global())
        renewal.schedule(deadline: .now() + lease / 4, repeating: lease / 4)
        renewal.setEventHandler { spool.renew(claim) }
        renewal.resume()
        defer { renewal.cancel() }
        var event: [String: Any] = ["worker": worker, "job": claim.job, "attempt": claim.attempt]
        var publishFailure: ProtocolError? = nil
        do throws(ProtocolError) {
            let bytes = try PartyStorage.read(claim.url, kind: .inputCiphertext)
            let input = try SessionCiphertext(file: bytes, kind: .inputCiphertext, source: claim.job, trusting: cloud.station, context: keys.context)
            if let problem = keys.session.mismatch(with: input.session, source: keysURL.relativePath, otherSource: claim.job) { throw problem }
            let origin = input.origin!
            let window = JobSpool.windowName(camera: origin.cameraFingerprint, sequence: origin.sequence)
            event["camera"] = origin.camera
            event["sequence"] = origin.sequence
            if FileManager.default.fileExists(atPath: spool.results.appendingPathComponent(window + ".result.hear").path) {
                spool.discard(claim)
                event["event"] = "duplicate"
            } else {
                let result = try server.evaluate(input, source: claim.job).result.serialized(signedBy: cloud)
                do {
                    event["event"] = try spool.complete(claim, result: result, window: window) ? "result" : "duplicate"
                    done += 1
                } catch {
                    spool.release(claim)   // not the job's fault: another worker (or this one, restarted) takes it
                    publishFailure = error
                }
            }
        } catch {
            if case let .cannotRead(path, _) = error, !FileManager.default.fileExists(atPath: claim.url.path) {
                // the claim was requeued under us (this worker was too slow to renew it): nothing to do
                event["event"] = "lost"
                event["reason"] = "the claim \(path) was requeued"
            } else {
                spool.fail(claim, reason: error.description)
                event["event"] = "failed"
                event["reason"] = error.description
                failed += 1
            }
        }
        if let publishFailure { throw CommandFailure(code: .cannotCreate, message: publishFailure.description) }
        event["seconds"] = wallSeconds(since: jobStart)
        event["wall"] = unixTime()
        emitEvent(event)
        idleSince = unixTime()
    }
    emitEvent(["event": "stopped", "worker": worker, "results": done, "failed": failed, "reason": stoppedBy, "wall": unixTime()])
}

func watch(_ arguments: ArraySlice<String>) throws(CommandFailure) {
    let options = try Options(arguments, allowed: ["secret-key", "spool", "alert", "cool-down", "identity", "state", "gap-timeout", "poll",
                                                   "idle-exit", "windows"])
    let keyURL = URL(fileURLWithPath: try options.required("secret-key"))
    let coolDown = try secondsOption(options, "cool-down", default: 10)!
    let template: AlertPolicy
    do { template = try AlertPolicy(parsing: options.values["alert"] ?? "1/2", coolDown: coolDown) } catch {
        throw CommandFailure(code: .usage, message: "--alert: \(error.description)")
    }
    let gapTimeout = try secondsOption(options, "gap-timeout", default: 30)!
    let poll = max(0.01, try secondsOption(options, "poll", default: 0.2)!)
    let idleExit = try secondsOption(options, "idle-exit", default: nil)
    let windowLimit = try options.integer("windows", range: 1...Int(Int32.max))
    let stateURL = URL(fileURLWithPath: options.values["state"] ?? keyURL.deletingLastPathComponent().appendingPathComponent(KeyFile.accepted).relativePath)
    let spool = try spoolOption(options)
    let station = try loadStation(keyURL, source: keyURL.relativePath, identity: options.values["identity"].map { URL(fileURLWithPath: $0) })
    var accepted = try protocolStep { () throws(ProtocolError) in try SequenceRegistry.load(stateURL) }
    let stop = StopRequest.install()

    struct Pending { var decision: Decision; var origin: CiphertextOrigin; var file: String; var arrived: Double }
    var pending: [Fingerprint: [UInt64: Pending]] = [:]
    var loaded = Set<String>()   // result files read and waiting for their turn (still in results/)
    var next: [Fingerprint: UInt64] = [:]
    var names: [Fingerprint: String] = [:]
    var gapSince: [Fingerprint: Double] = [:]
    var policies: [Fingerprint: AlertPolicy] = [:]
    var decided = 0, alerts = 0
    var lastArrival = unixTime()
    emitEvent(["event": "start", "station": station.identity.fingerprint.hex, "session": station.session.keySetID,
               "alert": "\(template.required)/\(template.window)", "coolDown": coolDown, "wall": unixTime()])

    func moveAside(_ file: String, reason: String) {
        spool.setAside(spool.results.appendingPathComponent(file), as: file, reason: reason)
        emitEvent(["event": "rejected", "file": file, "reason": reason, "wall": unixTime()])
    }

    /// Emits the windows of `camera` that are next in sequence; with `flush`, skips every gap.
    func release(_ camera: Fingerprint, flush: Bool) throws(CommandFailure) {
        while var queue = pending[camera], !queue.isEmpty, windowLimit.map({ decided < $0 }) ?? true {
            let expected = next[camera] ?? min(queue.keys.min()!, spool.sequencesNamed(camera: camera).first ?? UInt64.max)
            guard let item = queue.removeValue(forKey: expected) else {
                // a gap: the expected window's job failed, or it is late
                let window = JobSpool.windowName(camera: camera, sequence: expected)
                let failedJob = spool.failed.appendingPathComponent(window + ".input.hear")
                let since = gapSince[camera] ?? unixTime()
                gapSince[camera] = since
                let jobFailed = FileManager.default.fileExists(atPath: failedJob.path)
                guard flush || jobFailed || unixTime() - since >= gapTimeout else { return }
                emitEvent(["event": "missing", "camera": names[camera] ?? camera.hex, "cameraFingerprint": camera.hex, "sequence": expected,
                           "reason": jobFailed ? "its job failed (\(spool.failed.lastPathComponent)/\(window).input.hear.reason.txt)"
                                               : "no result after \(Int(gapTimeout)) s while later windows arrived",
                           "wall": unixTime()])
                next[camera] = expected + 1
                gapSince[camera] = nil
                decided += 1
                continue
            }
            pending[camera] = queue
            gapSince[camera] = nil
            next[camera] = expected + 1
            accepted.record(camera: camera, sequence: expected)
            try protocolStep { () throws(ProtocolError) in try accepted.save(stateURL) }
            rename(spool.results.appendingPathComponent(item.file).path, spool.decided.appendingPathComponent(item.file).path)
            loaded.remove(item.file)
            decided += 1
            let time = item.origin.captured?.end ?? item.arrived
            var event: [String: Any] = ["event": "window", "camera": item.origin.camera, "cameraFingerprint": camera.hex, "sequence": expected,
                                        "class": item.decision.className, "confidence": jsonConfidence(item.decision),
                                        "fall": item.decision.isAlert, "time": time, "wall": unixTime()]
            if let captured = item.origin.captured { event["start"] = captured.start; event["end"] = captured.end }
            emitEvent(event)
            var policy = policies[camera] ?? template
            if policy.observe(isAlertClass: item.decision.isAlert, at: time) {
                alerts += 1
                emitEvent(["event": "alert", "camera": item.origin.camera, "cameraFingerprint": camera.hex, "sequence": expected,
                           "time": time, "rule": "\(template.required)/\(template.window)", "class": item.decision.className,
                           "confidence": jsonConfidence(item.decision), "wall": unixTime()])
            }
            policies[camera] = policy
        }
    }

    var stoppedBy = "idle"
    loop: while true {
        if let signal = stop.requested { stoppedBy = signal; break }
        if let windowLimit, decided >= windowLimit { stoppedBy = "windows"; break }
        var arrived = false
        for file in spool.waitingResults() where !loaded.contains(file) {
            let url = spool.results.appendingPathComponent(file)
            do throws(ProtocolError) {
                let bytes = try PartyStorage.read(url, kind: .resultCiphertext)
                let result = try SessionCiphertext(file: bytes, kind: .resultCiphertext, source: file, trusting: station.trust, context: station.context)
                let origin = result.origin!
                let camera = origin.cameraFingerprint
                if accepted.contains(camera: camera, sequence: origin.sequence) || pending[camera]?[origin.sequence] != nil
                    || (next[camera].map { origin.sequence < $0 } ?? false) {
                    throw .replayed("\(file): camera '\(origin.camera)' sequence number \(origin.sequence) was already decided or skipped")
                }
                let decision = try station.decide(result, source: file)
                if next[camera] == nil, let latest = accepted.latest(camera: camera) { next[camera] = latest + 1 }
                names[camera] = origin.camera
                pending[camera, default: [:]][origin.sequence] = Pending(decision: decision, origin: origin, file: file, arrived: unixTime())
                loaded.insert(file)
                arrived = true
            } catch {
                if case .cannotRead = error { continue }   // taken away meanwhile
                moveAside(file, reason: error.description)
            }
        }
        if arrived { lastArrival = unixTime() }
        let idle = idleExit.map { unixTime() - lastArrival >= $0 } ?? false
        for camera in pending.keys.sorted(by: { $0.hex < $1.hex }) { try release(camera, flush: idle) }
        if let windowLimit, decided >= windowLimit { stoppedBy = "windows"; break loop }
        if idle { break }
        if !arrived { usleep(useconds_t(poll * 1e6)) }
    }
    emitEvent(["event": "stopped", "windows": decided, "alerts": alerts, "reason": stoppedBy, "wall": unixTime()])
}

func makeStream(_ arguments: ArraySlice<String>) throws(CommandFailure) {
    let options = try Options(arguments, allowed: ["clips", "out", "labels", "fps", "data"])
    let out = URL(fileURLWithPath: try options.required("out"))
    try checkWritable(out)
    let labelsURL = options.values["labels"].map { URL(fileURLWithPath: $0) }
    if let labelsURL { try checkWritable(labelsURL) }
    let fps = Double(try options.integer("fps", range: 1...1000) ?? 30)
    let testSet = try loadTestSet(dataSource(options))
    let text = try options.required("clips")
    var clips: [Int] = []
    if text == "all" {
        clips = Array(0..<testSet.count)
    } else {
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard let index = Int(part), index >= 0, index < testSet.count else {
                throw CommandFailure(code: .usage, message: "--clips takes clip indices 0…\(testSet.count - 1) separated by commas, or all; got \"\(printable(String(part)))\"")
            }
            clips.append(index)
        }
    }
    var lines = ["# HEAR frame stream: <time s>,<x1>,<y1>,<score1>,…,<x15>,<y15>,<score15> (15 joints in the paper's order)",
                 "# made by `hear make-stream --clips \(text) --fps \(Int(fps))` from the paper's test clips, in this order: \(clips.count) clips"]
    var labels: [String] = []
    var frameIndex = 0
    for clip in clips {
        let sequence = testSet.sequences[clip]
        let first = frameIndex
        for frame in sequence.frames {
            lines.append(FrameStreamReader.line(TimedFrame(time: Double(frameIndex) / fps, frame: frame)))
            frameIndex += 1
        }
        let object: [String: Any] = ["clip": clip, "label": HEARTestSet.classNames[testSet.labels[clip]], "firstFrame": first,
                                     "lastFrame": frameIndex - 1, "start": Double(first) / fps, "end": Double(frameIndex - 1) / fps]
        labels.append(jsonLine(object))
    }
    try writePartyFile(Array((lines.joined(separator: "\n") + "\n").utf8), to: out)
    if let labelsURL { try writePartyFile(Array((labels.joined(separator: "\n") + "\n").utf8), to: labelsURL) }
    let falls = clips.filter { testSet.labels[$0] == HEARTestSet.fallClass }.count
    FileHandle.standardError.write(Data(("hear: \(out.relativePath): \(frameIndex) frames from \(clips.count) test clips (\(falls) falls), "
        + String(format: "%.1f s at %d fps", Double(frameIndex) / fps, Int(fps)) + (labelsURL.map { "; labels in \($0.relativePath)" } ?? "") + "\n").utf8))
}
