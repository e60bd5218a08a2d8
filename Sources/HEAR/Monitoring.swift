// Continuous monitoring: a stream of frames in, windows out, debounced alerts.
//
// The camera (`hear monitor`) reads frames, keeps a sliding window and encrypts one window every
// `stride` frames into a spool directory; cloud workers (`hear serve`) claim the jobs and write
// results; the station (`hear watch`) decides each window in sequence order per camera and
// raises an alert when k of the last n windows say fall. The pieces here hold no key and do no
// cryptography: the stream format, the window, the alert rule and the spool's file protocol.
import Foundation
import HEARCrypto

/// The camera-clock times, in seconds, of the first and the last frame of a window.
public struct CaptureWindow: Codable, Sendable, Equatable {
    /// The first frame's timestamp.
    public var start: Double
    /// The last frame's timestamp.
    public var end: Double

    /// A window from `start` to `end` (the signer checks that both are finite and in order).
    public init(start: Double, end: Double) {
        self.start = start
        self.end = end
    }
}

/// One frame of a stream with its timestamp.
public struct TimedFrame: Sendable, Equatable {
    /// Camera-clock seconds.
    public var time: Double
    /// The 15 joints.
    public var frame: SkeletonFrame

    /// A frame taken at `time`.
    public init(time: Double, frame: SkeletonFrame) {
        self.time = time
        self.frame = frame
    }
}

/// The stream format `hear monitor` reads: one frame per line,
///
///     <timestamp>,<x₁>,<y₁>,<score₁>, … ,<x₁₅>,<y₁₅>,<score₁₅>
///
/// 46 comma-separated decimal numbers: the timestamp in seconds (strictly increasing), then the
/// 15 joints in the order of the paper's data (as in a keypoint CSV). Blank lines and lines
/// starting with `#` are ignored. A line that is not a frame — another count of values, a value
/// that is not a finite number, a joint value beyond ±10⁶ (the keypoint CSV's bound) or a time
/// beyond ±`maximumTime`, a timestamp not after the
/// previous frame's, more than `maximumLineBytes` bytes — is counted and skipped with its reason;
/// it never stops the stream.
public struct FrameStreamReader: Sendable {
    /// What one line was.
    public enum Line: Sendable, Equatable {
        /// A frame.
        case frame(TimedFrame)
        /// A bad frame, skipped; the text says why.
        case skipped(String)
        /// A blank line or a comment.
        case ignored
    }

    /// Values per line: the timestamp and 45 joint values.
    public static let valuesPerLine = 1 + SkeletonFrame.valuesPerFrame
    /// The longest line read as a frame (46 numbers need far fewer).
    public static let maximumLineBytes = 4096
    /// The largest |timestamp|: 10¹⁰ s (Unix time until the year 2286).
    public static let maximumTime = 1e10

    /// Lines read so far (the next line's number is one more).
    public private(set) var lineNumber = 0
    /// Frames accepted.
    public private(set) var frameCount = 0
    /// Bad frames skipped.
    public private(set) var skippedCount = 0
    var lastTime: Double?

    /// A reader at the start of a stream.
    public init() {}

    /// Reads the next line (without its newline).
    public mutating func read(_ line: some StringProtocol) -> Line {
        lineNumber += 1
        let result = parse(line)
        switch result {
        case let .frame(frame):
            frameCount += 1
            lastTime = frame.time
        case .skipped: skippedCount += 1
        case .ignored: break
        }
        return result
    }

    func parse(_ line: some StringProtocol) -> Line {
        guard line.utf8.count <= Self.maximumLineBytes else {
            return .skipped("a line of \(line.utf8.count) bytes (a frame has 46 numbers)")
        }
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty || trimmed.hasPrefix("#") { return .ignored }
        let fields = trimmed.split(separator: ",", omittingEmptySubsequences: false)
        guard fields.count == Self.valuesPerLine else {
            return .skipped("\(fields.count) values, a frame has \(Self.valuesPerLine) (the timestamp and x, y, score of 15 joints)")
        }
        var values = [Double]()
        values.reserveCapacity(fields.count)
        for (index, field) in fields.enumerated() {
            let text = field.trimmingCharacters(in: .whitespaces)
            guard let value = Double(text) else {
                return .skipped("value \(index + 1) is \"\(printableExcerpt(text))\", not a number")
            }
            guard value.isFinite else { return .skipped("value \(index + 1) is not finite (\(text))") }
            guard abs(value) <= (index == 0 ? Self.maximumTime : SkeletonFrame.maximumMagnitude) else {
                return .skipped("value \(index + 1) is \(text), beyond ±\(index == 0 ? "10¹⁰ s" : "10⁶ (pixel coordinates and scores)")")
            }
            values.append(value)
        }
        let time = values[0]
        if let lastTime, !(time > lastTime) {
            return .skipped("timestamp \(time) is not after the previous frame's (\(lastTime))")
        }
        var joints: [Keypoint] = []
        joints.reserveCapacity(SkeletonFrame.jointCount)
        for j in 0..<SkeletonFrame.jointCount {
            joints.append(Keypoint(x: values[1 + 3 * j], y: values[2 + 3 * j], score: values[3 + 3 * j]))
        }
        return .frame(TimedFrame(time: time, frame: SkeletonFrame(joints: joints)))
    }

    /// One stream line of `frame`: the format `read(_:)` parses (coordinates with three decimals,
    /// as in the paper's data; the timestamp with three).
    public static func line(_ frame: TimedFrame) -> String {
        var fields = [String(format: "%.3f", frame.time)]
        for joint in frame.frame.joints {
            fields.append(decimal(joint.x))
            fields.append(decimal(joint.y))
            fields.append(decimal(joint.score))
        }
        return fields.joined(separator: ",")
    }

    /// A number with at most six decimals and no trailing zeros (exact for the data's values).
    static func decimal(_ value: Double) -> String {
        var text = String(format: "%.6f", value)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text == "-0" ? "0" : text
    }
}

/// At most 40 printable characters of a user's text, for a message.
func printableExcerpt(_ text: String) -> String {
    let cleaned = String(text.unicodeScalars.prefix(40).map { $0.properties.generalCategory == .control ? "?" : Character($0) })
    return text.unicodeScalars.count > 40 ? cleaned + "…" : cleaned
}

/// The last `length` frames of a stream, handed out every `stride` frames once full: windows
/// start at frames 0, s, 2s, … (frame indices of the accepted frames).
public struct SlidingWindow: Sendable {
    /// Frames per window.
    public let length: Int
    /// Frames between the starts of consecutive windows.
    public let stride: Int
    var frames: [TimedFrame] = []
    var sinceLast = 0
    /// Frames appended so far.
    public private(set) var appended = 0
    /// Windows handed out so far.
    public private(set) var emitted = 0

    /// A window of `length` frames every `stride` frames.
    /// - Throws: `ProtocolError.invalidInput` unless 1 ≤ length ≤ 4096 and 1 ≤ stride ≤ 4096.
    public init(length: Int, stride: Int) throws(ProtocolError) {
        guard (1...4096).contains(length), (1...4096).contains(stride) else {
            throw .invalidInput("a window of \(length) frames every \(stride) frames: both must be in 1…4096")
        }
        self.length = length
        self.stride = stride
    }

    /// Adds a frame; returns the window (oldest frame first) and the index of its first frame
    /// when one is due.
    public mutating func append(_ frame: TimedFrame) -> (frames: [TimedFrame], firstIndex: Int)? {
        if frames.count == length { frames.removeFirst() }
        frames.append(frame)
        appended += 1
        sinceLast += 1
        guard frames.count == length, emitted == 0 || sinceLast >= stride else { return nil }
        sinceLast = 0
        emitted += 1
        return (frames, appended - length)
    }
}

/// When a stream of decisions raises an alert: when at least `required` of the last `window`
/// decisions are the alert class, and no alert was raised in the last `coolDown` seconds (on the
/// camera's clock), so that one fall, seen by several overlapping windows, gives one alert.
public struct AlertPolicy: Sendable, Equatable {
    /// k: alert-class decisions needed.
    public let required: Int
    /// n: decisions looked at.
    public let window: Int
    /// Seconds after an alert during which no other is raised.
    public let coolDown: Double
    var recent: [Bool] = []
    var lastAlert: Double?

    /// `k` of `n`, with a cool-down in seconds.
    /// - Throws: `ProtocolError.invalidInput` unless 1 ≤ k ≤ n ≤ 1000 and the cool-down is finite and ≥ 0.
    public init(required k: Int, of n: Int, coolDown: Double) throws(ProtocolError) {
        guard 1 <= k, k <= n, n <= 1000 else { throw .invalidInput("an alert rule of \(k)/\(n): it needs 1 ≤ k ≤ n ≤ 1000") }
        guard coolDown.isFinite, coolDown >= 0 else { throw .invalidInput("a cool-down of \(coolDown) s: it needs a finite number ≥ 0") }
        required = k
        window = n
        self.coolDown = coolDown
    }

    /// Parses `k/n` (e.g. `2/3`).
    /// - Throws: `ProtocolError.invalidInput` for another form or values out of range.
    public init(parsing text: String, coolDown: Double) throws(ProtocolError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let k = Int(parts[0]), let n = Int(parts[1]) else {
            throw .invalidInput("an alert rule is k/n (e.g. 2/3), got \"\(printableExcerpt(text))\"")
        }
        try self.init(required: k, of: n, coolDown: coolDown)
    }

    /// Records one decision taken at `time`; true when it raises an alert.
    public mutating func observe(isAlertClass: Bool, at time: Double) -> Bool {
        recent.append(isAlertClass)
        if recent.count > window { recent.removeFirst() }
        guard recent.lazy.filter({ $0 }).count >= required else { return false }
        if let lastAlert, time - lastAlert < coolDown { return false }
        lastAlert = time
        return true
    }
}

/// A spool directory shared by cameras, cloud workers and a station:
///
///     <spool>/jobs/      input ciphertexts waiting: <camera>-<sequence>.input.hear[.retry<k>]
///     <spool>/claimed/   jobs being evaluated:      <job file>@<worker>
///     <spool>/results/   result ciphertexts:        <camera>-<sequence>.result.hear
///     <spool>/failed/    jobs moved aside, <camera>-<sequence>.input.hear with its .reason.txt
///     <spool>/decided/   results the station has decided
///
/// `<camera>` is the camera key's fingerprint (32 hex digits) and `<sequence>` its sequence number
/// in 20 digits, so that names sort in sequence order. Every step is one `rename` or `link` in
/// one file system, atomic with any number of processes (on one machine or on NFS): a worker
/// claims a job by renaming it into `claimed/` (exactly one rename of a name succeeds); a result
/// is published with `PartyStorage.writeNew` (a second result for the same window is refused);
/// a worker refreshes its claim's modification time while it works (the lease), and any worker
/// puts a claim whose lease ran out back into `jobs/` (its worker died), at most
/// `maximumAttempts` times. Files whose names start with "." are partial writes and are skipped.
/// Names in the spool carry no authority: a worker names a result from the input's verified
/// signature, and the station checks every result's signatures and sequence number.
public struct JobSpool: Sendable {
    /// The spool's root directory.
    public let root: URL
    /// Where cameras put input ciphertexts.
    public var jobs: URL { root.appendingPathComponent("jobs") }
    /// Where workers keep the jobs they are evaluating.
    public var claimed: URL { root.appendingPathComponent("claimed") }
    /// Where workers put results.
    public var results: URL { root.appendingPathComponent("results") }
    /// Where malformed jobs and refused results go, with their reasons.
    public var failed: URL { root.appendingPathComponent("failed") }
    /// Where the station moves the results it has decided.
    public var decided: URL { root.appendingPathComponent("decided") }

    /// The spool at `root` (`create()` makes its directories).
    public init(_ root: URL) { self.root = root }

    /// Makes the spool's directories (those that exist are kept).
    /// - Throws: `ProtocolError.cannotWrite` when one cannot be made.
    public func create() throws(ProtocolError) {
        for directory in [jobs, claimed, results, failed, decided] {
            do { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
                throw .cannotWrite(path: directory.relativePath, reason: error.localizedDescription)
            }
        }
    }

    /// `<camera>-<sequence>`: the name of a window's job and result.
    public static func windowName(camera: Fingerprint, sequence: UInt64) -> String {
        let digits = String(sequence)
        return camera.hex + "-" + String(repeating: "0", count: max(0, 20 - digits.count)) + digits
    }

    /// Puts an input ciphertext file into `jobs/` (atomically); returns its file name.
    /// - Throws: `ProtocolError.cannotWrite` when it cannot be written.
    public func submit(_ bytes: [UInt8], camera: Fingerprint, sequence: UInt64) throws(ProtocolError) -> String {
        let name = Self.windowName(camera: camera, sequence: sequence) + ".input.hear"
        guard try PartyStorage.writeNew(bytes, to: jobs.appendingPathComponent(name)) else {
            throw .cannotWrite(path: jobs.appendingPathComponent(name).relativePath, reason: "a job of this camera and sequence number is already waiting")
        }
        return name
    }

    /// A job a worker has claimed.
    public struct Claim: Sendable, Equatable {
        /// The job's file name in `jobs/` (with any retry suffix).
        public var job: String
        /// 1 for the first claim, k after k − 1 workers stopped before finishing it.
        public var attempt: Int
        /// The claimed file.
        public var url: URL
    }

    /// The attempt a job file name records: 1, or k for a `.retry<k>` suffix.
    static func attempt(ofJob name: String) -> Int {
        guard let range = name.range(of: ".retry", options: .backwards), let k = Int(name[range.upperBound...]), k >= 2 else { return 1 }
        return k
    }

    /// The job file name without its retry suffix.
    static func baseJob(_ name: String) -> String {
        guard let range = name.range(of: ".retry", options: .backwards), Int(name[range.upperBound...]) != nil else { return name }
        return String(name[..<range.lowerBound])
    }

    /// Whether `name` is a valid worker name (1–64 letters, digits, '.', '_' or '-').
    public static func isValidWorkerName(_ name: String) -> Bool { isValidIdentityName(name) }

    /// The visible files of a directory, sorted by name (empty when it cannot be read).
    func files(in directory: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }

    /// Jobs waiting.
    public var waitingCount: Int { files(in: jobs).count }

    /// Claims the first waiting job (in name order: per camera, in sequence order) for `worker`,
    /// or returns nil when none is waiting. Safe against any number of concurrent workers.
    public func claimNext(worker: String) -> Claim? {
        for name in files(in: jobs) {
            let target = claimed.appendingPathComponent(name + "@" + worker)
            if rename(jobs.appendingPathComponent(name).path, target.path) == 0 {
                utime(target.path, nil)   // the lease starts now, not when the camera wrote the file
                return Claim(job: name, attempt: Self.attempt(ofJob: name), url: target)
            }
            // another worker was first: try the next one
        }
        return nil
    }

    /// Renews the lease of a claim (sets its modification time to now). False when the claim is
    /// gone (its lease ran out and another worker requeued it).
    @discardableResult
    public func renew(_ claim: Claim) -> Bool { utime(claim.url.path, nil) == 0 }

    /// Puts every claim whose lease is older than `lease` seconds back into `jobs/` with its
    /// attempt count raised, or into `failed/` once `maximumAttempts` workers have stopped on it.
    /// Returns the job names requeued and those given up.
    public func requeueExpired(lease: Double, maximumAttempts: Int, now: Date = Date()) -> (requeued: [String], abandoned: [String]) {
        var requeued: [String] = [], abandoned: [String] = []
        for name in files(in: claimed) {
            guard let at = name.range(of: "@", options: .backwards) else { continue }
            let url = claimed.appendingPathComponent(name)
            guard let modified = (try? FileManager.default.attributesOfItem(atPath: url.path))?[.modificationDate] as? Date,
                  now.timeIntervalSince(modified) > lease else { continue }
            let job = String(name[..<at.lowerBound])
            let next = Self.attempt(ofJob: job) + 1
            if next > maximumAttempts {
                // under the base name, which the station looks for
                if setAside(url, as: Self.baseJob(job),
                            reason: "\(maximumAttempts) workers stopped before finishing this job (the last: \(name[at.upperBound...])); not retried") {
                    abandoned.append(job)
                }
            } else if rename(url.path, jobs.appendingPathComponent(Self.baseJob(job) + ".retry\(next)").path) == 0 {
                requeued.append(job)
            }
        }
        return (requeued, abandoned)
    }

    /// Publishes the result of a claim as `results/<window>.result.hear` and removes the claim.
    /// Returns false, publishing nothing, when that window already has a result (a duplicate).
    /// - Throws: `ProtocolError.cannotWrite` when the result cannot be written (the claim is kept).
    public func complete(_ claim: Claim, result: [UInt8], window: String) throws(ProtocolError) -> Bool {
        let published = try PartyStorage.writeNew(result, to: results.appendingPathComponent(window + ".result.hear"))
        unlink(claim.url.path)
        return published
    }

    /// Removes a claim without a result (its window already has one).
    public func discard(_ claim: Claim) { unlink(claim.url.path) }

    /// Moves a claimed job into `failed/` with `reason` beside it; it is not retried.
    public func fail(_ claim: Claim, reason: String) { setAside(claim.url, as: Self.baseJob(claim.job), reason: reason) }

    /// Moves the file at `url` into `failed/` as `name`, with `reason` (one line) in
    /// `name.reason.txt` beside it. False, doing nothing, when the file was gone (another process
    /// moved it first).
    @discardableResult
    public func setAside(_ url: URL, as name: String, reason: String) -> Bool {
        guard rename(url.path, failed.appendingPathComponent(name).path) == 0 else { return false }
        _ = try? PartyStorage.write(Array((reason + "\n").utf8), to: failed.appendingPathComponent(name + ".reason.txt"))
        return true
    }

    /// Puts a claim back into `jobs/` unchanged (a worker stopping before it started the job).
    public func release(_ claim: Claim) { rename(claim.url.path, jobs.appendingPathComponent(claim.job).path) }

    /// The sequence numbers that the names of `camera`'s windows show anywhere in the spool
    /// (waiting, claimed, failed or with a result), sorted. Names are not authenticated: the
    /// station uses this only to know where a new camera's windows start, before it has decided one.
    public func sequencesNamed(camera: Fingerprint) -> [UInt64] {
        let prefix = camera.hex + "-"
        var found = Set<UInt64>()
        for directory in [jobs, claimed, failed, results] {
            for name in files(in: directory) where name.hasPrefix(prefix) {
                let digits = name.dropFirst(prefix.count).prefix(20)
                if digits.count == 20, let sequence = UInt64(digits) { found.insert(sequence) }
            }
        }
        return found.sorted()
    }

    /// Result files waiting for the station, in name order.
    public func waitingResults() -> [String] { files(in: results).filter { $0.hasSuffix(".result.hear") } }
}
