import Testing
import HERing
import HETensor

@Suite("packed layouts and programs")
struct LayoutTests {
    let two = try! SlotGeometry(slotCount: 8192, dimension: .two)
    let one = try! SlotGeometry(slotCount: 8192, dimension: .one)

    @Test("slot positions of sparse and merged layouts")
    func locations() {
        // 2D, after one pooling: channel 37 = ciphertext 2, block 5; entry (3, 4) at row 6, column 8.
        let sparse = PackedLayout(geometry: two, kind: .sparse, channels: 128, height: 16, width: 7, stride: 2)
        #expect(sparse.location(channel: 37, row: 3, column: 4) == (2, 5 * 512 + 6 * 16 + 8))
        #expect(sparse.ciphertextCount == 8)
        // Merged by 4: sparse ciphertext 2 is sub-position 2 of merged ciphertext 0, offset (1, 0).
        let merged = PackedLayout(geometry: two, kind: .merged(load: 4), channels: 128, height: 16, width: 7, stride: 2)
        #expect(merged.ciphertextCount == 2)
        #expect(merged.location(channel: 37, row: 3, column: 4) == (0, 5 * 512 + 6 * 16 + 8 + 16))
        #expect(merged.channel(ciphertext: 1, block: 3, subposition: 1) == 5 * 16 + 3)
        // 1D after two poolings, merged by 4: offset m.
        let merged1 = PackedLayout(geometry: one, kind: .merged(load: 4), channels: 256, height: 1, width: 120, stride: 4)
        #expect(merged1.location(channel: 16 * 7 + 2, row: 0, column: 10) == (1, 2 * 512 + 40 + 3))
        // Every (channel, entry) of a merged layout has its own slot.
        var seen = Set<Int>()
        for c in 0..<128 {
            for i in 0..<16 {
                for j in 0..<7 {
                    let (x, slot) = merged.location(channel: c, row: i, column: j)
                    #expect(seen.insert(x * 8192 + slot).inserted)
                    #expect(merged.channel(ciphertext: x, block: slot / 512, subposition: c / 16 % 4) == c)
                }
            }
        }
    }

    @Test("entry(ciphertext:block:offset:) inverts location: every valid slot once, every other slot nil")
    func entries() {
        let layouts = [PackedLayout(geometry: two, kind: .sparse, channels: 64, height: 16, width: 7, stride: 2),
                       PackedLayout(geometry: two, kind: .merged(load: 4), channels: 64, height: 16, width: 7, stride: 2),
                       PackedLayout(geometry: two, kind: .merged(load: 16), channels: 128, height: 8, width: 3, stride: 4),
                       PackedLayout(geometry: one, kind: .merged(load: 4), channels: 256, height: 1, width: 120, stride: 4),
                       PackedLayout(geometry: one, kind: .sparse, channels: 20, height: 1, width: 240, stride: 2)]
        for layout in layouts {
            var valid = 0
            for x in 0..<layout.ciphertextCount {
                for slot in 0..<8192 {
                    guard let e = layout.entry(ciphertext: x, block: slot / 512, offset: slot % 512) else { continue }
                    valid += 1
                    #expect(layout.location(channel: e.channel, row: e.row, column: e.column) == (x, slot), "\(layout)")
                }
            }
            #expect(valid == layout.channels * layout.height * layout.width, "\(layout)")
        }
        // the input: every block holds a replica of channel k mod 2
        let input = PackedLayout(geometry: two, kind: .replicated, channels: 2, height: 32, width: 15, stride: 1)
        #expect(input.entry(ciphertext: 0, block: 5, offset: 16 * 3 + 4).map { [$0.channel, $0.row, $0.column] } == [1, 3, 4])
        #expect(input.entry(ciphertext: 0, block: 4, offset: 15) == nil)   // the zero column
    }

    @Test("the picture shows which channel entry each slot holds")
    func picture() {
        let merged = PackedLayout(geometry: two, kind: .merged(load: 4), channels: 64, height: 16, width: 7, stride: 2)
        let lines = merged.picture(rows: 2, columns: 4).split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        #expect(lines[0] == ["c0:0,0", "c16:0,0", "c0:0,1", "c16:0,1"])
        #expect(lines[1] == ["c32:0,0", "c48:0,0", "c32:0,1", "c48:0,1"])
    }

    /// A one-block-per-layer network with small made-up weights (2 → 16 → 16 → 16 channels).
    func tinyNetwork(_ dimension: SlotGeometry.Dimension) throws -> FoldedCNN {
        let (kh, h, w) = dimension == .two ? (3, 32, 15) : (1, 1, 480)
        var blocks: [FoldedCNN.Block] = []
        var size = (h, w)
        for (t, cin) in [3, 16, 16].enumerated() {
            let count = 16 * cin * kh * 3
            let weight = (0..<count).map { Double(($0 * 7 + t) % 11) / 10 - 0.5 }
            let bias = (0..<(16 * size.0 * size.1)).map { Double($0 % 5) / 20 }
            blocks.append(try FoldedCNN.Block(weight: weight, outputChannels: 16, inputChannels: cin, kernelHeight: kh, kernelWidth: 3,
                                          biasMap: bias, height: size.0, width: size.1))
            size = dimension == .two ? (size.0 / 2, size.1 / 2) : (1, size.1 / 2)
        }
        return try FoldedCNN(dimension: dimension, blocks: blocks, linearWeight: (0..<160).map { Double($0 % 7) / 7 - 0.4 },
                         linearBias: (0..<10).map(Double.init))
    }

    @Test("programs: depth, rotation steps normalized, materialized patterns")
    func programShape() throws {
        for dimension in [SlotGeometry.Dimension.one, .two] {
            let hear = try PackedProgram.compile(tinyNetwork(dimension), slotCount: 8192, method: .hear)
            let fast = try PackedProgram.compile(tinyNetwork(dimension), slotCount: 8192, method: .fastHEAR)
            // conv + square per block and the dense layer; nothing to merge with one ciphertext per layer.
            #expect(hear.depth == 7 && fast.depth == 7)
            #expect(hear.rotationSteps.allSatisfy { $0 > 0 && $0 < 8192 })
            #expect(hear.outputSlots == (0..<10).map { $0 * 512 })
            #expect(hear.counts.squarings == 3)
            // A materialized blockwise pattern has its values exactly at its positions.
            if case let .blockwise(values, offsets, positions, shift) = hear.patterns[0].form {
                let vector = hear.patterns[0].materialize(slotCount: 8192, positionSets: hear.positionSets)
                let nonzero = values.filter { $0 != 0 }.count * hear.positionSets[positions].count
                #expect(vector.filter { $0 != 0 }.count == nonzero)
                #expect(offsets == [0] && shift >= 0)
            } else {
                Issue.record("the first pattern is a convolution weight")
            }
        }
    }

    @Test("the simulator's input vector holds x and y replicated in alternate blocks")
    func inputSlots() throws {
        let program = try PackedProgram.compile(tinyNetwork(.two), slotCount: 8192, method: .hear)
        let input = (0..<(3 * 32 * 15)).map { Double($0) }
        let slots = try program.inputSlots(input)
        #expect(slots[0] == 0 && slots[16 + 1] == 16)                  // x(1, 1) in block 0
        #expect(slots[512 + 2 * 16 + 3] == Double(480 + 2 * 15 + 3))   // y(2, 3) in block 1
        #expect(slots[14 * 512 + 5 * 16 + 7] == Double(5 * 15 + 7))    // x again in block 14
        #expect(slots[15] == 0)                                         // the 16th column is zero
    }

    @Test("geometries, networks and inputs that cannot be packed are refused, each saying why")
    func refusals() throws {
        for slots in [0, 4096, 5000, 8192 + 100] {
            #expect(throws: HETensorError.unsupportedSlotCount(slots)) { try SlotGeometry(slotCount: slots, dimension: .two) }
        }
        #expect(HETensorError.unsupportedSlotCount(4096).description.contains("at least 10 blocks"))
        #expect(throws: HETensorError.invalidNetwork("12 weights for 16 × 3 × 3 × 3")) {
            try FoldedCNN.Block(weight: Array(repeating: 0, count: 12), outputChannels: 16, inputChannels: 3, kernelHeight: 3,
                                kernelWidth: 3, biasMap: Array(repeating: 0, count: 16 * 32 * 15), height: 32, width: 15)
        }
        #expect(throws: HETensorError.invalidNetwork("no convolution block")) {
            try FoldedCNN(dimension: .two, blocks: [], linearWeight: [], linearBias: [])
        }
        let network = try tinyNetwork(.two)
        #expect(throws: HETensorError.invalidNetwork("159 linear weights for 10 classes × 16 channels")) {
            try FoldedCNN(dimension: .two, blocks: network.blocks, linearWeight: Array(network.linearWeight.dropLast()),
                          linearBias: network.linearBias)
        }
        // a 2D network compiled as 1D: the first block's maps do not match the 1 × 480 input
        let wrongDimension = try FoldedCNN(dimension: .one, blocks: network.blocks, linearWeight: network.linearWeight,
                                           linearBias: network.linearBias)
        #expect(throws: HETensorError.invalidNetwork("block 1 expects 32 × 15 maps, its input is 1 × 480")) {
            try PackedProgram.compile(wrongDimension, slotCount: 8192, method: .hear)
        }
        let program = try PackedProgram.compile(network, slotCount: 8192, method: .hear)
        #expect(throws: HETensorError.invalidInput("100 input values for 2 channels of 32 × 15")) {
            try program.inputSlots(Array(repeating: 0, count: 100))
        }
        #expect(throws: HETensorError.invalidInput("the input has 5 slots, the program 8192")) {
            try ClearSlotSimulator.run(program, input: [1, 2, 3, 4, 5])
        }
        // the clear-slot backend's operations check their operands (they used to index out of range)
        let backend = ClearSlotBackend(program: program)
        let good = ClearSlots(real: Array(repeating: 1, count: 8192)), short = ClearSlots(real: [1, 2, 3])
        let badSize = HETensorError.invalidInput("a slot vector of 3 real and 0 imaginary values for 8192 slots")
        #expect(throws: badSize) { try backend.rotations(short, by: [1]) }
        #expect(throws: badSize) { try backend.square(short) }
        #expect(throws: badSize) { try backend.add([good, short]) }
        #expect(throws: badSize) { try backend.splitComplex(good, conjugate: short) }
        #expect(throws: HETensorError.invalidInput("a sum needs at least one value")) { try backend.add([]) }
        #expect(throws: HETensorError.invalidInput("a product sum needs at least one term")) { try backend.multiplyAccumulate([]) }
        let missing = HETensorError.invalidInput("pattern \(program.patterns.count) is not one of the program's \(program.patterns.count)")
        #expect(throws: missing) { try backend.addPattern(good, pattern: program.patterns.count) }
        #expect(throws: missing) { try backend.multiplyAccumulate([(good, program.patterns.count)]) }
        // a negative step rotates right, as in CKKS: ρ(x, −1) = ρ(x, n − 1)
        let ramp = ClearSlots(real: (0..<8192).map(Double.init))
        #expect(try backend.rotations(ramp, by: [-1])[0].real == backend.rotations(ramp, by: [8191])[0].real)
        #expect(try backend.rotations(ramp, by: [-1])[0].real[0] == 8191)
    }
}

@Suite("profiles of a program run")
struct ProfileTests {
    @Test("a profiled run gives the same result, and its counts are the program's, phase by phase", arguments: [HEMethod.hear, .fastHEAR])
    func profileCounts(method: HEMethod) throws {
        let network = try LayoutTests().tinyNetwork(.two)
        let program = try PackedProgram.compile(network, slotCount: 8192, method: method)
        let input = ClearSlots(real: (0..<8192).map { Double($0 % 97) / 97 })
        let backend = ClearSlotBackend(program: program, parallelism: try Parallelism(threads: 2))
        let plain = try program.run(on: backend, input: input)
        let profiled = try program.run(on: backend, input: input, profiling: true)
        #expect(plain.profile == nil)
        #expect(profiled.result.real == plain.result.real)
        let profile = try #require(profiled.profile)
        #expect(profile.phases == program.stages.reduce(into: [String]()) { if !$0.contains($1.phase) { $0.append($1.phase) } })
        // every instruction is in the profile once, under its phase
        for phase in profile.phases {
            let stages = program.stages.filter { $0.phase == phase }
            let counts = stages.dropFirst().reduce(stages[0].counts) { $0 + $1.counts }
            let rows = profile.rows.filter { $0.key.phase == phase }
            func operations(_ kind: ProgramProfile.Kind) -> Int { rows.filter { $0.key.kind == kind }.values.reduce(0) { $0 + $1.operations } }
            #expect(operations(.rotation) + operations(.hoistedRotation) + operations(.rotationSum) + operations(.boxSum)
                    == counts.rotations, "\(phase)")
            // a box sum shares one decomposition among its key switches (the compiler emits them with 3 or 7)
            #expect(operations(.hoistedRotation) + operations(.boxSum) == counts.hoistedRotations, "\(phase)")
            #expect(operations(.productSum) == counts.plaintextProducts, "\(phase)")
            #expect(operations(.square) == counts.squarings, "\(phase)")
            #expect(operations(.conjugation) == counts.conjugations, "\(phase)")
            let profiled: Int = rows.values.map(\.instructions).reduce(0, +)
            let programmed: Int = stages.map { $0.groups.joined().count }.reduce(0, +)
            #expect(profiled == programmed, "\(phase)")
            #expect(rows.values.allSatisfy { $0.seconds >= 0 })
        }
        // the clear backend has no levels
        #expect(profile.rows.keys.allSatisfy { $0.level == nil })
    }
}
