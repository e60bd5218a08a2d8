import CKKS
import Dispatch
import Foundation
import HERing
import HETensor

extension MonitoringStation {
    /// The complex slots of any ciphertext of this session, at any level: a **station-side debug
    /// view** for `hear trace`. It needs the secret key, so only the station can do it; the
    /// parties' protocol never decrypts anything but the result.
    public func decryptIntermediate(_ ciphertext: Ciphertext) throws(ProtocolError) -> [Complex] {
        do { return try context.decode(decryptor.decrypt(ciphertext)) } catch {
            throw .damaged(source: "an intermediate ciphertext", reason: "cannot decrypt: \(error.description)")
        }
    }
}

/// One encrypted prediction followed stage by stage (`hear trace`): for every stage of the slot
/// program, the level and scale of what it wrote, its operation counts and time, and how far the
/// decrypted values are from the clear-slot simulator's values of the same registers — the
/// plaintext network in the packed layout (the simulator equals the folded network within 10⁻⁹),
/// every slot compared, garbage slots included — beside the precision a noise model predicts.
///
/// Decrypting intermediates needs the secret key: a trace is a station-side debug mode.
public struct ProgramTrace: Sendable, Codable {
    /// One stage of the program, as decrypted and as predicted.
    public struct Step: Sendable, Codable {
        /// The stage's index in the program.
        public var stage: Int
        /// The phase it belongs to ("block1", …, "dense").
        public var phase: String
        /// The stage's name ("products", "giant steps", "square", …).
        public var name: String
        /// Independent groups (the parallel width) and registers written.
        public var groups: Int
        /// Registers the stage writes.
        public var registers: Int
        /// Level and log₂ of the scale of the registers written (the first one's: a stage's
        /// registers share them).
        public var level: Int
        /// log₂ of the scale of those registers.
        public var log2Scale: Double
        /// Registers decrypted and compared (`ProgramTrace.comparedPerStage` at most).
        public var compared: Int
        /// max |decrypted − simulated| over every slot of the compared registers, and
        /// −log₂ of it: the measured bits of precision.
        public var maxError: Double
        /// −log₂ `maxError`: the measured bits of precision.
        public var measuredBits: Double
        /// The noise model's bits for the same registers (`NoiseModel`).
        public var predictedBits: Double
        /// max |simulated| over the compared registers (the values' size).
        public var magnitude: Double
        /// Operation counts of the stage.
        public var counts: OperationCounts
        /// Wall seconds of the stage.
        public var seconds: Double
    }

    /// The model's name.
    public var model: String
    /// `fast-hear` or `hear`.
    public var method: String
    /// The CKKS parameter set's name.
    public var preset: String
    /// Slots per ciphertext.
    public var slots: Int
    /// Threads the evaluation ran with.
    public var threads: Int
    /// The stages in order.
    public var steps: [Step]
    /// The decrypted scores, the simulator's (= the plaintext network's), their largest gap.
    public var scores: [Double]
    /// The simulator's scores for the same clip.
    public var referenceScores: [Double]
    /// max |decrypted − simulated| over the scores.
    public var scoreError: Double
    /// The plaintext network's scores for the same clip (set by the caller that has the model).
    public var networkScores: [Double]? = nil

    /// Registers decrypted per stage: the first three it writes and its last (a stage's
    /// registers are alike; the last is the end of a chain, the program's result at the end).
    public static let comparedPerStage = 4

    static func compared<V>(_ written: [(register: Int, value: V)]) -> [(register: Int, value: V)] {
        guard written.count > comparedPerStage else { return written }
        return Array(written.prefix(comparedPerStage - 1)) + [written[written.count - 1]]
    }

    /// The trace as a text table, one line per stage.
    public var table: String {
        var lines = ["phase  stage                              groups level log2Δ   bits predicted  max|x|   key-sw (hoisted) conj products rescales   time"]
        for s in steps {
            let name = s.name.count > 32 ? String(s.name.prefix(31)) + "…" : s.name
            lines.append(s.phase.padding(toLength: 7, withPad: " ", startingAt: 0) + String(format: "%2d ", s.stage)
                         + name.padding(toLength: 32, withPad: " ", startingAt: 0)
                         + String(format: " %5d %5d %5.1f %6.1f %9.1f %7.2f %8d (%4d) %4d %8d %8d %6.1f ms",
                                s.groups, s.level, s.log2Scale, s.measuredBits,
                                s.predictedBits, s.magnitude, s.counts.keySwitches, s.counts.hoistedRotations, s.counts.conjugations,
                                s.counts.plaintextProducts, s.counts.rescales, s.seconds * 1000))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// An SVG chart: measured and predicted bits of precision per stage (left axis) and the
    /// level (right axis), the phases marked.
    public func chart() -> String {
        let (width, height) = (960.0, 440.0)
        let left = 60.0, right = 60.0, top = 50.0, bottom = 70.0
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        var svg = SVGDocument(width: width, height: height)
        let count = max(steps.count, 1)
        let maxBits = max(40, ((steps.map { max($0.measuredBits, $0.predictedBits) }.max() ?? 40) / 10).rounded(.up) * 10)
        let maxLevel = Double(max(1, steps.map(\.level).max() ?? 1) + 1)
        func x(_ i: Int) -> Double { left + plotWidth * (Double(i) + 0.5) / Double(count) }
        func yBits(_ b: Double) -> Double { top + plotHeight * (1 - min(max(b, 0), maxBits) / maxBits) }
        func yLevel(_ l: Int) -> Double { top + plotHeight * (1 - Double(l) / maxLevel) }
        svg.text("\(model), \(method), preset \(preset): precision and level after each stage (station-side trace)",
                 x: left, y: 24, size: 15, bold: true)
        // phase bands
        var start = 0, band = 0
        for (i, step) in steps.enumerated() where i == steps.count - 1 || steps[i + 1].phase != step.phase {
            let x0 = left + plotWidth * Double(start) / Double(count), x1 = left + plotWidth * Double(i + 1) / Double(count)
            svg.rect(x: x0, y: top, width: x1 - x0, height: plotHeight, fill: band % 2 == 0 ? "#f6f8fa" : "#ffffff")
            band += 1
            svg.text(step.phase, x: (x0 + x1) / 2, y: top - 6, size: 11, anchor: .middle, fill: "#555")
            svg.line(x1: x1, y1: top, x2: x1, y2: top + plotHeight, stroke: "#ccc", width: 0.5)
            start = i + 1
        }
        // axes and grid
        svg.line(x1: left, y1: top + plotHeight, x2: left + plotWidth, y2: top + plotHeight)
        svg.line(x1: left, y1: top, x2: left, y2: top + plotHeight)
        svg.line(x1: left + plotWidth, y1: top, x2: left + plotWidth, y2: top + plotHeight)
        for b in stride(from: 0.0, through: maxBits, by: 10) {
            svg.line(x1: left, y1: yBits(b), x2: left + plotWidth, y2: yBits(b), stroke: "#ddd", width: 0.5)
            svg.text(String(Int(b)), x: left - 6, y: yBits(b) + 4, size: 10, anchor: .end)
        }
        for l in 0...Int(maxLevel) {
            svg.text(String(l), x: left + plotWidth + 6, y: yLevel(l) + 4, size: 10)
        }
        svg.text("bits of precision", x: 16, y: top + plotHeight / 2, size: 11, anchor: .middle, rotated: true)
        svg.text("level", x: width - 14, y: top + plotHeight / 2, size: 11, anchor: .middle, rotated: true)
        svg.text("stage of the slot program (in order)", x: left + plotWidth / 2, y: height - 36, size: 11, anchor: .middle)
        // the level as steps, the predicted bits dashed, the measured bits with points
        var levelPoints: [(x: Double, y: Double)] = []
        for (i, step) in steps.enumerated() {
            levelPoints.append((left + plotWidth * Double(i) / Double(count), yLevel(step.level)))
            levelPoints.append((left + plotWidth * Double(i + 1) / Double(count), yLevel(step.level)))
        }
        svg.polyline(levelPoints, stroke: "#9e9e9e", width: 2)
        svg.polyline(steps.enumerated().map { (x($0.offset), yBits($0.element.predictedBits)) }, stroke: "#f28e2b", width: 2)
        svg.polyline(steps.enumerated().map { (x($0.offset), yBits($0.element.measuredBits)) }, stroke: "#1f77b4", width: 2)
        for (i, step) in steps.enumerated() {
            svg.circle(cx: x(i), cy: yBits(step.measuredBits), r: 3, fill: "#1f77b4",
                       title: String(format: "%@ %@: level %d, scale 2^%.1f, %.1f bits measured, %.1f predicted, %d key switches, %.1f ms",
                                     step.phase, step.name, step.level, step.log2Scale, step.measuredBits, step.predictedBits,
                                     step.counts.keySwitches, step.seconds * 1000))
        }
        // legend
        let legendY = height - 14
        svg.line(x1: left, y1: legendY - 4, x2: left + 24, y2: legendY - 4, stroke: "#1f77b4", width: 2)
        svg.text("measured (decrypted vs. simulator)", x: left + 30, y: legendY, size: 11)
        svg.line(x1: left + 260, y1: legendY - 4, x2: left + 284, y2: legendY - 4, stroke: "#f28e2b", width: 2)
        svg.text("predicted (noise model)", x: left + 290, y: legendY, size: 11)
        svg.line(x1: left + 460, y1: legendY - 4, x2: left + 484, y2: legendY - 4, stroke: "#9e9e9e", width: 2)
        svg.text("level (right axis)", x: left + 490, y: legendY, size: 11)
        return svg.rendered()
    }
}

/// A heuristic model of the error of every register of a packed program on a CKKS chain, in
/// slot units (the decrypted value minus the exact one), derived from the operations: each
/// error is treated as independent, zero-mean, with the same variance v in every slot
/// (complex: E|e|²). With N the degree, Δ the scale where it is added, a uniform ternary secret
/// (h ≈ 2N/3 nonzero coefficients) and σ = 3.2:
///
/// - encryption with the public key: e = u·e_pk + e₀ + e₁·s (coefficient variance
///   σ²(1 + 2N/3 + h)) is made in Q_ℓ·P and divided by P with the ModDown (`Encryptor`), so
///   what is left is that division's rounding, below; a slot sums N coefficients;
/// - a rounding of the coefficients (rescale, ModDown after a key switch): τ₀ + τ₁·s with τ
///   uniform in [−½, ½]: v = N(1 + h)/12/Δ² (the key-switch noise Σ dⱼeⱼ/P is far smaller);
/// - Σ pₖ ⊙ xₖ then rescale: v = max over slots of Σ |pₖ|²·vₖ, plus the patterns' encoding
///   rounding (N/12 per coefficient at scale q_ℓ, times |x|²), plus one rounding;
/// - x², relinearized and rescaled: 4·max|x|²·v + v² plus one rounding (the relinearization is
///   a key switch at scale Δ²: negligible after the rescale);
/// - a rotation or conjugation permutes the slots (same v) and adds one rounding; a sum of
///   rotations adds the terms' v and one rounding; additions add v; z + z̄ keeps 2v.
///
/// The predicted maximum over the n slots of a register is √(v/2)·√(2 ln 2n) per real
/// component (a Gaussian tail); the bits are −log₂ of it.
public struct NoiseModel: Sendable {
    /// The ring degree N.
    public let degree: Double
    /// Slots: N/2.
    public let slotCount: Double
    let h: Double
    let sigma: Double

    /// The model for ring degree `degree` (h = 2N/3, σ as the sampler's).
    public init(degree: Int) {
        self.degree = Double(degree)
        slotCount = Double(degree / 2)
        h = 2 * Double(degree) / 3
        sigma = Sampler.standardDeviation
    }

    /// A fresh encryption (made modulo Q_ℓ·P, then ModDown): the RLWE error over P² (a special
    /// prime of 2⁶⁰: nothing) and one rounding.
    public func fresh(scale: Double, specialModulus: Double) -> Double {
        degree * sigma * sigma * (1 + 2 * degree / 3 + h) / (specialModulus * specialModulus * scale * scale) + rounding(scale: scale)
    }
    /// One rounding of the coefficients at `scale`: N(1 + h)/12/Δ².
    public func rounding(scale: Double) -> Double { degree * (1 + h) / 12 / (scale * scale) }
    /// The rounding of an encoding to integers (no secret involved): N/12/Δ².
    public func encodingRounding(scale: Double) -> Double { degree / 12 / (scale * scale) }
    /// The expected largest |real part| of n slots with complex error variance v.
    public func maximum(variance v: Double) -> Double { (v / 2).squareRoot() * (2 * log(2 * slotCount)).squareRoot() }
    /// −log₂ of `maximum(variance:)`: the predicted bits of precision.
    public func bits(variance v: Double) -> Double { -log2(max(maximum(variance: v), 1e-300)) }
}

extension EncryptedInference {
    /// Runs one encrypted prediction of `input` stage by stage beside the clear-slot simulator
    /// and returns the trace (a station-side debug mode: it decrypts intermediates).
    public func trace(_ input: ActionInput, model: String = "", method: String = "") throws(ProtocolError) -> ProgramTrace {
        let slotsIn: [Double]
        do { slotsIn = try program.inputSlots(input.tensor.values) } catch { throw .invalidInput("the input: \(error.description)") }
        // the simulator with the noise model: the compared registers of every stage
        let tracker = NoiseTrackingBackend(program: program, parameters: context.parameters)
        var reference: [Int: NoiseTrackingBackend.Value] = [:]
        let special = context.parameters.specialPrimes.reduce(1.0) { $0 * Double($1) }
        let simulated: ProgramRun<NoiseTrackingBackend.Value>
        do throws(HETensorError) {
            simulated = try program.run(on: tracker, input: tracker.input(slotsIn, level: plan.startLevel, scale: plan.inputScale,
                                                                          specialModulus: special)) { _, _, written in
                for (register, value) in ProgramTrace.compared(written) { reference[register] = value }
            }
        } catch { throw .invalidInput("the simulator: \(error.description)") }
        let noise = NoiseModel(degree: context.degree)
        // the ciphertexts
        var client = try Client(publicKey: clientKey, deterministicSeed: seed)
        let ciphertext = try client.encrypt(input)
        var steps: [ProgramTrace.Step] = []
        var failure: ProtocolError? = nil
        let run: ProgramRun<Ciphertext>
        do throws(CKKSBackend.Failure) {
            run = try program.run(on: backend, input: ciphertext.ciphertext) { index, seconds, written in
                guard failure == nil else { return }
                let stage = self.program.stages[index]
                var maxError = 0.0, size = 0.0, worstVariance = 0.0
                let compared = ProgramTrace.compared(written)
                for (register, value) in compared {
                    guard let exact = reference[register] else { continue }
                    do throws(ProtocolError) {
                        let decrypted = try self.station.decryptIntermediate(value)
                        let re = exact.slots.real, im = exact.slots.imaginary
                        for (i, z) in decrypted.enumerated() {
                            maxError = max(maxError, abs(z.real - re[i]), abs(z.imaginary - (im?[i] ?? 0)))
                        }
                    } catch { failure = error; return }
                    size = max(size, EncryptedInference.largest(exact.slots))
                    worstVariance = max(worstVariance, exact.variance.max() ?? 0)
                }
                let first = written.first?.value
                steps.append(ProgramTrace.Step(
                    stage: index, phase: stage.phase, name: stage.name, groups: stage.groups.count, registers: written.count,
                    level: first?.level ?? 0, log2Scale: first.map { log2($0.scale) } ?? 0, compared: compared.count,
                    maxError: maxError, measuredBits: -log2(max(maxError, 1e-300)),
                    predictedBits: noise.bits(variance: worstVariance), magnitude: size,
                    counts: stage.counts, seconds: seconds))
            }
        } catch { throw .invalidInput("the evaluation failed: \(error.description)") }
        if let failure { throw failure }
        let decrypted = try station.decryptIntermediate(run.result).map(\.real)
        let scores = program.outputSlots.map { decrypted[$0] }
        let exact = program.outputSlots.map { simulated.result.slots.real[$0] }
        return ProgramTrace(model: model, method: method, preset: context.parameters.name, slots: context.slotCount,
                            threads: context.parallelism.threadCount, steps: steps, scores: scores, referenceScores: exact,
                            scoreError: zip(scores, exact).reduce(0) { max($0, abs($1.0 - $1.1)) })
    }

    static func largest(_ x: ClearSlots) -> Double {
        var m = x.real.reduce(0) { max($0, abs($1)) }
        if let imaginary = x.imaginary { m = max(m, imaginary.reduce(0) { max($0, abs($1)) }) }
        return m
    }
}

/// The clear-slot simulator with the noise model riding along: every value carries, per slot,
/// the variance `NoiseModel` predicts for the error a ciphertext of it would have (so masks,
/// which zero the error of the slots they clear, and the large garbage values, whose errors the
/// zero weights drop, are followed slot by slot), and its level and scale as `LevelPlan` fixes
/// them. The clear values are the simulator's own.
public struct NoiseTrackingBackend: SlotBackend {
    /// A value: clear slots, per-slot error variance, level and scale.
    public struct Value: Sendable {
        /// The clear values (the simulator's).
        public var slots: ClearSlots
        /// E|error|² per slot.
        public var variance: [Double]
        /// The level `LevelPlan` gives the register.
        public var level: Int
        /// The scale of the register.
        public var scale: Double
    }
    /// The simulator's errors.
    public typealias Failure = HETensorError

    let simulator: ClearSlotBackend
    let noise: NoiseModel
    let primes: [Double]
    /// |pattern|² per slot, materialized once each.
    let patternSquares: [[Double]]
    /// Serial: the tracker runs a stage's groups one after another.
    public var parallelism: Parallelism { .serial }

    /// A noise tracker for `program` on the chain of `parameters`.
    public init(program: PackedProgram, parameters: CKKSParameters) {
        simulator = ClearSlotBackend(program: program)
        noise = NoiseModel(degree: parameters.degree)
        primes = parameters.dataPrimes.map { Double($0) }
        let n = program.geometry.slotCount
        patternSquares = program.patterns.map { pattern in
            let re = pattern.materialize(slotCount: n, positionSets: program.positionSets)
            let im = pattern.materializeImaginary(slotCount: n, positionSets: program.positionSets)
            return zip(re, im).map { $0 * $0 + $1 * $1 }
        }
    }

    /// The input as encrypted: one rounding of the encoding and the encryption's (`NoiseModel.fresh`).
    public func input(_ slots: [Double], level: Int, scale: Double, specialModulus: Double) -> Value {
        let v = noise.fresh(scale: scale, specialModulus: specialModulus) + noise.encodingRounding(scale: scale)
        return Value(slots: ClearSlots(real: slots), variance: [Double](repeating: v, count: slots.count), level: level, scale: scale)
    }

    /// The value's level.
    public func level(of value: Value) -> Int? { value.level }

    func rotated(_ v: [Double], by step: Int) -> [Double] {
        let n = v.count, r = ((step % n) + n) % n
        return r == 0 ? v : Array(v[r...] + v[..<r])
    }

    func plus(_ a: [Double], _ b: [Double]) -> [Double] { zip(a, b).map { $0 + $1 } }

    /// Permuted variances plus one rounding each.
    public func rotations(_ x: Value, by steps: [Int]) throws(HETensorError) -> [Value] {
        let rounding = noise.rounding(scale: x.scale)
        return try zip(simulator.rotations(x.slots, by: steps), steps).map { slots, step in
            Value(slots: slots, variance: rotated(x.variance, by: step).map { $0 + rounding }, level: x.level, scale: x.scale)
        }
    }

    /// The terms' rotated variances summed, plus one rounding (the shared ModDown).
    public func rotateSum(_ terms: [(value: Value, step: Int)]) throws(HETensorError) -> Value {
        var total = [Double](repeating: 0, count: terms[0].value.variance.count)
        var parts: [ClearSlots] = []
        for term in terms {
            total = plus(total, rotated(term.value.variance, by: term.step))
            parts.append(term.step == 0 ? term.value.slots : try simulator.rotations(term.value.slots, by: [term.step])[0])
        }
        let first = terms[0].value, rounding = noise.rounding(scale: first.scale)
        return Value(slots: try simulator.add(parts), variance: total.map { $0 + rounding }, level: first.level, scale: first.scale)
    }

    /// A sum of rotations of `x` (`rotateSum(_:)`).
    public func boxSum(_ x: Value, steps: [Int]) throws(HETensorError) -> Value {
        try rotateSum(steps.map { (x, $0) })
    }

    /// Σ |pₖ|²·vₖ plus the patterns' encoding rounding times |x|², plus one rounding; one level down.
    public func multiplyAccumulate(_ terms: [(value: Value, pattern: Int)]) throws(HETensorError) -> Value {
        let first = terms[0].value
        let prime = primes[first.level]
        var total = [Double](repeating: 0, count: first.variance.count)
        let encoding = noise.encodingRounding(scale: prime)
        for term in terms {
            let p2 = patternSquares[term.pattern], v = term.value.variance
            let re = term.value.slots.real, im = term.value.slots.imaginary
            for i in total.indices {
                let x2 = re[i] * re[i] + (im.map { $0[i] * $0[i] } ?? 0)
                total[i] += p2[i] * v[i] + encoding * x2
            }
        }
        let scale = first.scale * prime / prime
        let rounding = noise.rounding(scale: scale)
        return Value(slots: try simulator.multiplyAccumulate(terms.map { ($0.value.slots, $0.pattern) }),
                     variance: total.map { $0 + rounding }, level: first.level - 1, scale: scale)
    }

    /// The variances added.
    public func add(_ values: [Value]) throws(HETensorError) -> Value {
        Value(slots: try simulator.add(values.map(\.slots)), variance: values.dropFirst().reduce(values[0].variance) { plus($0, $1.variance) },
              level: values[0].level, scale: values[0].scale)
    }

    /// Plus the pattern's encoding rounding.
    public func addPattern(_ x: Value, pattern: Int) throws(HETensorError) -> Value {
        let encoding = noise.encodingRounding(scale: x.scale)
        return Value(slots: try simulator.addPattern(x.slots, pattern: pattern), variance: x.variance.map { $0 + encoding },
                     level: x.level, scale: x.scale)
    }

    /// 4·|x|²·v + v² plus one rounding; one level down, scale Δ²/q_ℓ.
    public func square(_ x: Value) throws(HETensorError) -> Value {
        let scale = x.scale * x.scale / primes[x.level]
        let rounding = noise.rounding(scale: scale)
        let re = x.slots.real, im = x.slots.imaginary
        let variance = x.variance.indices.map { i -> Double in
            let x2 = re[i] * re[i] + (im.map { $0[i] * $0[i] } ?? 0)
            return 4 * x2 * x.variance[i] + x.variance[i] * x.variance[i] + rounding
        }
        return Value(slots: try simulator.square(x.slots), variance: variance, level: x.level - 1, scale: scale)
    }

    /// Same variance plus one rounding.
    public func conjugate(_ x: Value) throws(HETensorError) -> Value {
        let rounding = noise.rounding(scale: x.scale)
        return Value(slots: try simulator.conjugate(x.slots), variance: x.variance.map { $0 + rounding }, level: x.level, scale: x.scale)
    }

    /// Real and imaginary parts, each with the sum of the two variances.
    public func splitComplex(_ z: Value, conjugate c: Value) throws(HETensorError) -> (real: Value, imaginary: Value) {
        let (a, b) = try simulator.splitComplex(z.slots, conjugate: c.slots)
        // e + ē' and i(ē' − e): 2·Re e and 2·Im e plus the conjugation's own error
        let variance = plus(z.variance, c.variance)
        return (Value(slots: a, variance: variance, level: z.level, scale: z.scale),
                Value(slots: b, variance: variance, level: z.level, scale: z.scale))
    }
}
