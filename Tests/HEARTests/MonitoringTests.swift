import Dispatch
import Foundation
import HEARCrypto
import Testing
import HEAR

@Suite("continuous monitoring: stream, window, alert rule, spool")
struct MonitoringTests {
    /// A frame whose joint j sits at (base + j, base + 2j) with score 0.5.
    func frame(_ base: Double) -> SkeletonFrame {
        SkeletonFrame(joints: (0..<15).map { Keypoint(x: base + Double($0), y: base + 2 * Double($0), score: 0.5) })
    }

    @Test("stream lines: frames parse, bad frames are counted and skipped with their reason, never a stop")
    func streamReader() {
        var reader = FrameStreamReader()
        let good = FrameStreamReader.line(TimedFrame(time: 0.5, frame: frame(100.125)))
        #expect(good.split(separator: ",").count == 46)
        #expect(reader.read(good) == .frame(TimedFrame(time: 0.5, frame: frame(100.125))))
        #expect(reader.read("") == .ignored && reader.read("   # a comment") == .ignored)
        let fields = good.split(separator: ",").map(String.init)
        func skipped(_ line: String, _ reason: String) {
            guard case let .skipped(text) = reader.read(line) else { Issue.record("\(line.prefix(30)) was not skipped"); return }
            #expect(text.contains(reason), "\(text)")
        }
        skipped(fields.dropLast().joined(separator: ","), "45 values, a frame has 46")
        skipped((["1.0"] + fields.dropFirst().dropLast() + ["nan"]).joined(separator: ","), "value 46 is not finite")
        skipped((["1.0"] + fields.dropFirst().dropLast() + ["inf"]).joined(separator: ","), "not finite")
        skipped((["1.0", "abc\u{1b}"] + fields.dropFirst(2)).joined(separator: ","), "value 2 is \"abc?\", not a number")
        skipped((["1.0", "-1e308"] + fields.dropFirst(2)).joined(separator: ","), "value 2 is -1e308, beyond ±10⁶")
        skipped(good, "timestamp 0.5 is not after the previous frame's (0.5)")                     // same time again
        skipped((["0.25"] + fields.dropFirst()).joined(separator: ","), "timestamp 0.25 is not after")  // back in time
        skipped(String(repeating: "1,", count: 3000), "a line of 6000 bytes")
        #expect(reader.read((["0.75"] + fields.dropFirst()).joined(separator: ",")) != .ignored)
        #expect(reader.frameCount == 2 && reader.skippedCount == 8 && reader.lineNumber == 12)
    }

    @Test("the sliding window: full windows every stride frames, oldest frame first")
    func slidingWindow() throws {
        var window = try SlidingWindow(length: 32, stride: 16)
        var windows: [(frames: [TimedFrame], firstIndex: Int)] = []
        for i in 0..<100 {
            if let w = window.append(TimedFrame(time: Double(i), frame: frame(Double(i)))) { windows.append(w) }
        }
        #expect(windows.map(\.firstIndex) == [0, 16, 32, 48, 64])
        for w in windows { #expect(w.frames.map(\.time) == (w.firstIndex..<w.firstIndex + 32).map(Double.init)) }
        var every = try SlidingWindow(length: 3, stride: 1)
        #expect((0..<5).compactMap { every.append(TimedFrame(time: Double($0), frame: frame(0)))?.firstIndex } == [0, 1, 2])
        #expect(throws: ProtocolError.self) { try SlidingWindow(length: 0, stride: 1) }
        #expect(throws: ProtocolError.self) { try SlidingWindow(length: 32, stride: 5000) }
    }

    @Test("k of n with a cool-down: one fall seen by several windows gives one alert")
    func alertRule() throws {
        var rule = try AlertPolicy(parsing: "2/3", coolDown: 10)
        // windows every 0.5 s: a fall seen by windows 3, 4, 5; another fall 20 s later
        let falls: Set<Int> = [3, 4, 5, 44, 45]
        var alerts: [Int] = []
        for i in 0..<60 where rule.observe(isAlertClass: falls.contains(i), at: Double(i) / 2) { alerts.append(i) }
        #expect(alerts == [4, 45])
        var single = try AlertPolicy(required: 1, of: 1, coolDown: 0)
        #expect([true, true, false, true].enumerated().map { single.observe(isAlertClass: $0.element, at: Double($0.offset)) } == [true, true, false, true])
        var cooling = try AlertPolicy(required: 1, of: 2, coolDown: 5)
        #expect([0.0, 1, 4.9, 5, 6].map { cooling.observe(isAlertClass: true, at: $0) } == [true, false, false, true, false])
        for bad in ["3/2", "0/1", "2", "a/b", "1/1001", "-1/3"] {
            #expect(throws: ProtocolError.self, "\(bad)") { try AlertPolicy(parsing: bad, coolDown: 1) }
        }
        #expect(throws: ProtocolError.self) { try AlertPolicy(required: 1, of: 2, coolDown: .nan) }
    }

    @Test("a result is published once: of eight writers racing for one name exactly one wins")
    func writeNewRace() throws {
        let directory = try temporaryDirectory("write-new")
        let url = directory.appendingPathComponent("result.hear")
        let wins = UnsafeMutableBufferPointer<Bool>.allocate(capacity: 8)
        defer { wins.deallocate() }
        let shared = UncheckedPointer(wins)
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            shared.buffer[i] = (try? PartyStorage.writeNew(Array(repeating: UInt8(i), count: 100_000), to: url)) ?? false
        }
        let winners = (0..<8).filter { wins[$0] }
        #expect(winners.count == 1)
        let bytes = try PartyStorage.read(url)
        #expect(bytes.count == 100_000 && bytes.allSatisfy { Int($0) == winners.first })
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["result.hear"])   // no partial file left
    }

    @Test("the spool: each job claimed by exactly one of many workers, dead workers' jobs requeued then given up, failures set aside")
    func spoolProtocol() throws {
        let spool = JobSpool(try temporaryDirectory("spool"))
        try spool.create()
        let camera = Fingerprint(truncating: SHA256.hash(Array("camera".utf8)))
        for sequence in 1...40 as ClosedRange<UInt64> {
            _ = try spool.submit(Array("job \(sequence)".utf8), camera: camera, sequence: sequence)
        }
        #expect(throws: ProtocolError.self) { try spool.submit([1], camera: camera, sequence: 7) }   // never two jobs of one window
        #expect(spool.waitingCount == 40 && spool.sequencesNamed(camera: camera) == Array(1...40))
        // six workers claim concurrently until nothing is left
        final class Claims: @unchecked Sendable {
            let lock = NSLock()
            var all: [JobSpool.Claim] = []
            func add(_ claim: JobSpool.Claim) { lock.lock(); all.append(claim); lock.unlock() }
        }
        let collected = Claims()
        DispatchQueue.concurrentPerform(iterations: 6) { worker in
            while let claim = spool.claimNext(worker: "w\(worker)") { collected.add(claim) }
        }
        let claims = collected.all
        #expect(claims.count == 40 && Set(claims.map(\.job)).count == 40 && claims.allSatisfy { $0.attempt == 1 })
        #expect(spool.waitingCount == 0)
        // in name order: the first claims are the first windows
        let window3 = JobSpool.windowName(camera: camera, sequence: 3)
        #expect(window3 == camera.hex + "-00000000000000000003")
        let claim3 = try #require(claims.first { $0.job == window3 + ".input.hear" })
        #expect(try spool.complete(claim3, result: [3], window: window3))
        #expect(!FileManager.default.fileExists(atPath: claim3.url.path))
        let claim4 = try #require(claims.first { $0.job.hasPrefix(JobSpool.windowName(camera: camera, sequence: 4)) })
        #expect(try spool.complete(claim4, result: [4], window: window3) == false)   // a second result for window 3: refused
        #expect(try PartyStorage.read(spool.results.appendingPathComponent(window3 + ".result.hear")) == [3])
        let claim5 = try #require(claims.first { $0.job.hasPrefix(JobSpool.windowName(camera: camera, sequence: 5)) })
        spool.fail(claim5, reason: "not a valid input")
        let reason = try String(contentsOf: spool.failed.appendingPathComponent(claim5.job + ".reason.txt"), encoding: .utf8)
        #expect(reason == "not a valid input\n")
        // the renewed claims are kept; the others (their workers "died" a minute ago) are requeued
        let live = claims.filter { ![claim3, claim4, claim5].contains($0) }
        let later = Date().addingTimeInterval(60)
        for claim in live.prefix(10) { try FileManager.default.setAttributes([.modificationDate: later], ofItemAtPath: claim.url.path) }
        let first = spool.requeueExpired(lease: 30, maximumAttempts: 3, now: Date().addingTimeInterval(61))
        #expect(first.requeued.count == 27 && first.abandoned.isEmpty)
        #expect(spool.waitingCount == 27)
        let retried = try #require(spool.claimNext(worker: "w9"))
        #expect(retried.attempt == 2 && retried.job.hasSuffix(".input.hear.retry2"))
        // a job whose workers keep dying is given up after three attempts
        let second = spool.requeueExpired(lease: 30, maximumAttempts: 3, now: Date().addingTimeInterval(200))
        #expect(second.requeued.count == 10 + 1 && second.abandoned.isEmpty)
        var third = spool.claimNext(worker: "w9")
        while let claim = third, claim.attempt < 3 { third = spool.claimNext(worker: "w9") }
        let doomed = try #require(third)
        #expect(doomed.attempt == 3)
        let last = spool.requeueExpired(lease: 30, maximumAttempts: 3, now: Date().addingTimeInterval(400))
        #expect(last.abandoned == [doomed.job])
        let base = String(doomed.job.dropLast(".retry3".count))
        let abandonedReason = try String(contentsOf: spool.failed.appendingPathComponent(base + ".reason.txt"), encoding: .utf8)
        #expect(abandonedReason.contains("3 workers stopped before finishing") && base.hasSuffix(".input.hear"))
        #expect(FileManager.default.fileExists(atPath: spool.failed.appendingPathComponent(base).path))
        #expect(JobSpool.isValidWorkerName("host-12") && !JobSpool.isValidWorkerName("a@b") && !JobSpool.isValidWorkerName(""))
    }
}

/// A buffer handed to concurrent workers, each writing its own element.
struct UncheckedPointer: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<Bool>
    init(_ buffer: UnsafeMutableBufferPointer<Bool>) { self.buffer = buffer }
}

/// A `hear` process running in the background, its stdout and stderr in files.
final class BackgroundHear {
    let process = Process()
    let output: URL, error: URL

    init(_ arguments: [String], in directory: URL, label: String) throws {
        guard let executable = hearExecutable else { throw CocoaError(.fileNoSuchFile) }
        output = directory.appendingPathComponent("\(label).out")
        error = directory.appendingPathComponent("\(label).err")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        _ = FileManager.default.createFile(atPath: error.path, contents: nil)
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(["HEAR_DATA": "/nonexistent/hear-data"]) { $1 }
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = try FileHandle(forWritingTo: error)
        try process.run()
    }

    /// The JSON lines written so far.
    var events: [[String: Any]] {
        let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }
    var errorText: String { (try? String(contentsOf: error, encoding: .utf8)) ?? "" }

    /// Waits for the process to end (at most `seconds`; killed after that). Its exit status.
    @discardableResult
    func wait(seconds: Double) -> Int32 {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { process.terminate(); process.waitUntilExit(); return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }
}

@Suite("continuous monitoring end to end: camera, two workers, station as processes",
       .enabled(if: encryptedTests && hearExecutable != nil, "N = 2^14 and the hear executable: release builds, or HEAR_SLOW_TESTS=1"))
struct MonitoringEndToEndTests {
    @Test("a real stream through the spool: a worker killed mid-job, every window answered once, the fall alerted once")
    func killAWorker() throws {
        let directory = try temporaryDirectory("monitoring")
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        let noData = ["HEAR_DATA": "/nonexistent/hear-data"]
        let keygen = try hear(["keygen", "--out", path("keys")], environment: noData)
        #expect(keygen.status == 0, "\(keygen.error)")
        for (role, name) in [("camera", "living-room"), ("cloud", "worker-pool")] {
            #expect(try hear(["enroll", "--role", role, "--name", name, "--out", path(role)]).status == 0)
            let certify = try hear(["certify", "--keys", path("keys"), "--device", path("\(role)/identity.pub"), "--out", path("\(role)/certificate.hear")])
            #expect(certify.status == 0, "\(certify.error)")
        }
        // a walk, a sit, a fall, a pick-up: 128 frames; windows of 32 every 16 frames start at 0, 16, …, 96
        let clips = [381, 98, 164, 426]
        let make = try hear(["make-stream", "--clips", clips.map(String.init).joined(separator: ","), "--out", path("stream.txt"),
                             "--labels", path("labels.jsonl")], environment: noData)
        #expect(make.status == 0 && make.error.contains("128 frames from 4 test clips (1 falls)"), "\(make.error)")
        var stream = try String(contentsOf: URL(fileURLWithPath: path("stream.txt")), encoding: .utf8)
        stream += "not,a,frame\n"   // a bad frame at the end: counted, skipped, no window lost
        try stream.write(toFile: path("stream.txt"), atomically: true, encoding: .utf8)

        // the plaintext network's decision for each window, to compare with the station's
        let model = try FoldedNetwork(folding: paperModel("cnn2d-64"))
        var reader = FrameStreamReader()
        var window = try SlidingWindow(length: 32, stride: 16)
        var expected: [String] = []
        for line in stream.split(separator: "\n") {
            if case let .frame(frame) = reader.read(line), let (frames, _) = window.append(frame) {
                let logits = model.logits(Client.input(for: SkeletonSequence(frames: frames.map(\.frame))))
                expected.append(HEARTestSet.classNames[logits.indices.max { logits[$0] < logits[$1] }!])
            }
        }
        #expect(expected.count == 7 && expected[4] == "fall", "\(expected)")

        // a malformed job named as the camera's window 0: a worker sets it aside with its reason,
        // the station reports window 0 missing and goes on with 1…7
        let spool = path("spool")
        let cameraFingerprint = try DeviceDirectory(URL(fileURLWithPath: path("camera"))).credentials().credentials.identity.fingerprint
        try JobSpool(URL(fileURLWithPath: spool)).create()
        let bogus = JobSpool.windowName(camera: cameraFingerprint, sequence: 0) + ".input.hear"
        try Data([0xff] + [UInt8](repeating: 0, count: 100)).write(to: URL(fileURLWithPath: spool).appendingPathComponent("jobs/" + bogus))
        let serve = ["serve", "--device", path("cloud"), "--eval-keys", path("keys/evaluation-keys.hear"), "--spool", spool,
                     "--threads", "1", "--lease", "2", "--poll", "0.05"]
        let workerA = try BackgroundHear(serve + ["--worker", "worker-a"], in: directory, label: "worker-a")
        let workerB = try BackgroundHear(serve + ["--worker", "worker-b"], in: directory, label: "worker-b")
        let station = try BackgroundHear(["watch", "--secret-key", path("keys/secret-key.hear"), "--spool", spool, "--alert", "1/2",
                                          "--cool-down", "10", "--windows", "8", "--poll", "0.05"], in: directory, label: "station")
        let camera = try BackgroundHear(["monitor", "--device", path("camera"), "--public-key", path("keys/public-key.hear"),
                                         "--spool", spool, "--input", path("stream.txt")], in: directory, label: "camera")
        #expect(camera.wait(seconds: 120) == 0, "\(camera.errorText)")
        #expect(camera.errorText.contains("line 131: bad frame skipped: 3 values"), "\(camera.errorText)")
        let end = camera.events.last
        #expect(end?["event"] as? String == "end" && end?["windows"] as? Int == 7 && end?["skipped"] as? Int == 1, "\(camera.events)")

        // kill worker A with SIGKILL while it holds a claim (mid-job)
        let claimed = URL(fileURLWithPath: spool).appendingPathComponent("claimed")
        var killedJob: String? = nil
        let deadline = Date().addingTimeInterval(120)
        while killedJob == nil && Date() < deadline && workerA.process.isRunning {
            if let job = (try? FileManager.default.contentsOfDirectory(atPath: claimed.path))?.first(where: { $0.hasSuffix("@worker-a") }) {
                kill(workerA.process.processIdentifier, SIGKILL)
                killedJob = job
            } else {
                usleep(5_000)
            }
        }
        let killed = try #require(killedJob, "worker A never held a claim: \(workerA.errorText)")
        workerA.wait(seconds: 10)
        #expect(workerA.process.terminationReason == .uncaughtSignal)
        #expect(station.wait(seconds: 240) == 0, "\(station.errorText)")
        // worker B took the dead worker's job back after its lease, and stops on SIGTERM
        workerB.process.terminate()
        #expect(workerB.wait(seconds: 60) == 0, "\(workerB.errorText)")
        let bEvents = workerB.events
        let killedBase = String(killed.prefix { $0 != "@" })
        #expect(bEvents.contains { $0["event"] as? String == "requeued" && $0["job"] as? String == killedBase }, "\(bEvents)")
        #expect(bEvents.last?["event"] as? String == "stopped" && bEvents.last?["reason"] as? String == "SIGTERM", "\(bEvents)")

        // every window exactly one result, none failed; the station decided all seven in order
        let spoolURL = URL(fileURLWithPath: spool)
        let decided = try FileManager.default.contentsOfDirectory(atPath: spoolURL.appendingPathComponent("decided").path).sorted()
        #expect(decided.count == 7 && Set(decided).count == 7, "\(decided)")
        let failedFiles = try FileManager.default.contentsOfDirectory(atPath: spoolURL.appendingPathComponent("failed").path)
        let reasons = failedFiles.filter { $0.hasSuffix(".reason.txt") }.map { (try? String(contentsOf: spoolURL.appendingPathComponent("failed/" + $0), encoding: .utf8)) ?? "" }
        #expect(failedFiles.sorted() == [bogus, bogus + ".reason.txt"], "\(failedFiles) \(reasons)")
        #expect(reasons.first?.contains("is not a HEAR key or ciphertext file") == true, "\(reasons)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: spoolURL.appendingPathComponent("results").path).isEmpty)
        #expect((workerA.events + bEvents).filter { $0["event"] as? String == "failed" }.compactMap { $0["job"] as? String } == [bogus])
        let results = (workerA.events + bEvents).filter { $0["event"] as? String == "result" }.compactMap { $0["sequence"] as? Int }
        #expect(results.sorted() == Array(1...7), "\(results)")
        let events = station.events
        let windows = events.filter { $0["event"] as? String == "window" }
        #expect(windows.compactMap { $0["sequence"] as? Int } == Array(1...7), "\(events)")
        #expect(windows.compactMap { $0["class"] as? String } == expected, "\(windows)")
        let ends: [Double] = windows.compactMap { $0["end"] as? Double }
        let frameEnds: [Double] = (0..<7).map { (k: Int) -> Double in (Double(16 * k + 31) / 30 * 1000).rounded() / 1000 }
        #expect(ends == frameEnds, "\(windows)")
        let alerts = events.filter { $0["event"] as? String == "alert" }
        #expect(alerts.count == 1 && alerts.first?["class"] as? String == "fall", "\(events)")
        let missing = events.filter { $0["event"] as? String == "missing" }
        #expect(missing.count == 1 && missing.first?["sequence"] as? Int == 0 && (missing.first?["reason"] as? String)?.contains("its job failed") == true,
                "\(events)")
        #expect(events.last?["event"] as? String == "stopped" && events.last?["windows"] as? Int == 8)

        // many inputs per run: two clips encrypted in one run, evaluated in one run (keys and weights once)
        let encrypt = try hear(["encrypt", "--device", path("camera"), "--public-key", path("keys/public-key.hear"),
                                "--clip", "164", "--out", path("a.hear"), "--clip", "381", "--out", path("b.hear")], environment: noData)
        #expect(encrypt.status == 0 && encrypt.output.contains("sequence number 8") && encrypt.output.contains("sequence number 9"), "\(encrypt.error)")
        let infer = try hear(["infer", "--device", path("cloud"), "--eval-keys", path("keys/evaluation-keys.hear"), "--threads", "2",
                              "--in", path("a.hear"), "--out", path("ra.hear"), "--in", path("b.hear"), "--out", path("rb.hear")], environment: noData)
        #expect(infer.status == 0 && infer.output.contains("once for 2 input(s)"), "\(infer.error)")
        #expect(infer.output.components(separatedBy: "inference ").count == 3, "\(infer.output)")
        for (file, label) in [("ra.hear", "fall"), ("rb.hear", "walk")] {
            let decrypt = try hear(["decrypt", "--secret-key", path("keys/secret-key.hear"), "--in", path(file), "--json"])
            let object = try JSONSerialization.jsonObject(with: Data(decrypt.output.utf8)) as? [String: Any]
            #expect(object?["class"] as? String == label, "\(decrypt.output) \(decrypt.error)")
        }
        // one refused input among several: the others are still evaluated, the exit status says so
        let third = try hear(["encrypt", "--device", path("camera"), "--public-key", path("keys/public-key.hear"),
                              "--clip", "98", "--out", path("c.hear")], environment: noData)
        #expect(third.status == 0, "\(third.error)")
        let mixed = try hear(["infer", "--device", path("cloud"), "--eval-keys", path("keys/evaluation-keys.hear"), "--threads", "2",
                              "--in", path("a.hear"), "--out", path("ra2.hear"), "--in", path("c.hear"), "--out", path("rc.hear")], environment: noData)
        #expect(mixed.status == 65 && mixed.error.contains("which was already accepted: a replay")
                && mixed.error.contains("1 of 2 inputs refused"), "\(mixed.error)")
        #expect(!FileManager.default.fileExists(atPath: path("ra2.hear")) && FileManager.default.fileExists(atPath: path("rc.hear")))
    }
}
