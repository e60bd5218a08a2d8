import Foundation
import Testing
import HEAR
import HEARTraining
import HERing

/// Two easily told apart kinds of clip: the joints swing horizontally (class 0) or vertically
/// (class 1), around a random pose at a random place.
func swingingClips(_ count: Int, seed: UInt8) -> LabelledClips {
    let g = ChaCha20(seed: [UInt8](repeating: seed, count: 32))
    func uniform() -> Double { Double(g.next() >> 11) * 0x1p-53 }
    var sequences: [SkeletonSequence] = [], labels: [Int] = []
    for n in 0..<count {
        let label = n % 2
        let center = (x: 200 + 100 * uniform(), y: 150 + 50 * uniform())
        let pose = (0..<15).map { _ in (x: 40 * uniform() - 20, y: 120 * uniform() - 60) }
        let phase = 6.28 * uniform(), amplitude = 20 + 10 * uniform()
        let frames = (0..<32).map { f -> SkeletonFrame in
            let swing = amplitude * sin(Double(f) / 3 + phase)
            return SkeletonFrame(joints: pose.map { p in
                Keypoint(x: center.x + p.x + (label == 0 ? swing : 0), y: center.y + p.y + (label == 1 ? swing : 0), score: 0.9)
            })
        }
        sequences.append(SkeletonSequence(frames: frames))
        labels.append(label)
    }
    return LabelledClips(sequences: sequences, labels: labels)
}

@Suite("training: the SGD trainer")
struct TrainerTests {
    func configuration(epochs: Int) -> TrainingConfiguration {
        var c = TrainingConfiguration()
        c.epochs = epochs
        c.batchSize = 16
        c.learningRate = 0.02
        c.seed = 5
        return c
    }

    func smallModel() -> HEARModel {
        HEARModel.randomlyInitialized(architecture: NetworkArchitecture(convolution: .oneD, filters: 4), seed: 2)
    }

    @Test("learns a separable problem: the loss falls and held-out clips are classified")
    func learns() throws {
        let data = swingingClips(160, seed: 1), heldOut = swingingClips(40, seed: 2)
        var conf = configuration(epochs: 20)
        conf.augmentation = .none  // (augmented, the same problem needs more epochs)
        conf.milestones = [0.75]
        var trainer = Trainer(network: TrainableNetwork(model: smallModel()), configuration: conf)
        var losses: [Double] = []
        try trainer.train(data) { losses.append($0.loss) }
        #expect(losses.count == 20)
        #expect(losses.last! < 0.5 * losses.first!, "losses \(losses)")
        let accuracy = try trainer.accuracy(on: heldOut)
        #expect(accuracy >= 0.9, "held-out accuracy \(accuracy)")
        // the trained network is a model like any other: it writes and reads back
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hear-trained-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try trainer.network.model(name: "trained").write(to: directory)
        let reloaded = try HEARModel(contentsOf: directory)
        #expect(reloaded.tensors == (try trainer.network.model(name: "trained")).tensors)
    }

    @Test("reproducible: the same seed gives the same weights, whatever the thread count")
    func deterministic() throws {
        let data = swingingClips(40, seed: 3)
        func run(threads: Int) throws -> [String: [Double]] {
            var settings = configuration(epochs: 2)
            settings.parallelism = try Parallelism(threads: threads)   // this run's own setting
            var trainer = Trainer(network: TrainableNetwork(model: smallModel()), configuration: settings)
            try trainer.train(data)
            return trainer.network.parameters
        }
        let one = try run(threads: 1), two = try run(threads: 2)
        #expect(one == two)
        #expect(one != TrainableNetwork(model: smallModel()).parameters)
    }

    @Test("stratified folds partition the clips and keep the class proportions")
    func folds() {
        let labels = (0..<103).map { $0 % 10 == 9 ? 9 : $0 % 3 }
        let clips = LabelledClips(sequences: Array(repeating: SkeletonSequence(frames: []), count: labels.count), labels: labels)
        var seen: [Int] = []
        for fold in 0..<5 {
            let (training, validation) = clips.crossValidationSplit(folds: 5, fold: fold)
            #expect(Set(training).isDisjoint(with: validation) && training.count + validation.count == labels.count)
            seen += validation
            let falls = validation.filter { labels[$0] == 9 }.count
            #expect(falls == 2)  // 10 falls over 5 folds
        }
        #expect(seen.sorted() == Array(0..<labels.count))
    }

    @Test("augmentations keep undetected joints at 0 and flip swaps the sides")
    func augmentation() {
        var clip = swingingClips(1, seed: 4).sequences[0]
        for f in 0..<32 { clip.frames[f].joints[7] = Keypoint(x: 0, y: 0, score: 0) }
        var a = Augmentation.none
        a.flipProbability = 1
        var g = ChaCha20(seed: [UInt8](repeating: 1, count: 32))
        let flipped = a.input(clip, generator: &g)
        let plain = Augmentation.none.input(clip, generator: &g)
        let plane = 32 * 15
        // joint 7 (undetected) moves to joint 4's place and stays 0; x is mirrored within [0, 1]
        #expect(flipped[4] == 0 && flipped[plane + 4] == 0)
        for (l, r) in JointLayout.mirrorPairs where l != 4 && r != 7 && l != 7 && r != 4 {
            #expect(abs(flipped[l] - (1 - plain[r])) < 1e-12)
            #expect(abs(flipped[plane + l] - plain[plane + r]) < 1e-12)
        }
        var removal = Augmentation.none
        removal.lowerLimbRemovalProbability = 1
        let removed = removal.input(clip, generator: &g)
        for f in 0..<32 {
            for j in JointLayout.lowerLimbs { #expect(removed[f * 15 + j] == 0 && removed[plane + f * 15 + j] == 0) }
        }
    }
}

@Suite("training: synthetic skeletons")
struct SyntheticTests {
    @Test("deterministic, every class, inside the image, readable by the test-set loader")
    func synthetic() throws {
        let clips = SyntheticSkeletons(seed: 7).clips(40)
        #expect(clips.sequences == SyntheticSkeletons(seed: 7).clips(40).sequences)
        #expect(clips.sequences != SyntheticSkeletons(seed: 8).clips(40).sequences)
        #expect(Set(clips.labels) == Set(0..<10))
        var detected = 0, total = 0
        for sequence in clips.sequences {
            #expect(sequence.frames.count == 32)
            for joint in sequence.frames.flatMap(\.joints) {
                total += 1
                guard joint.isDetected else { continue }
                detected += 1
                #expect(joint.x > -20 && joint.x < 330 && joint.y > -10 && joint.y < 255)
            }
        }
        // like the real data (81 % detected), a good share of joints is missing
        #expect(Double(detected) / Double(total) > 0.6 && Double(detected) / Double(total) < 0.98)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hear-synth-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let text = clips.testSetFormat
        try text.inputs.write(to: directory.appendingPathComponent("test_inputs.csv"), atomically: true, encoding: .utf8)
        try text.labels.write(to: directory.appendingPathComponent("test_labels.csv"), atomically: true, encoding: .utf8)
        let loaded = try HEARTestSet.load(directory: directory)
        #expect(loaded.labels == clips.labels)
        for (a, b) in zip(loaded.sequences, clips.sequences) {
            for (p, q) in zip(a.frames.flatMap(\.joints), b.frames.flatMap(\.joints)) {
                #expect(abs(p.x - q.x) < 1e-9 && abs(p.y - q.y) < 1e-9)
            }
        }
    }
}

@Suite("the embedded synthetic model")
struct EmbeddedModelTests {
    @Test("loads from the package resource; a 2D-CNN-64 trained on synthetic clips that recognises new synthetic clips")
    func embedded() throws {
        let model = try HEARModel.embeddedSynthetic()
        #expect(model.architecture.name == "cnn2d-64")
        #expect(model.name == "cnn2d-64-trained-seed2026-synthetic2000")
        // clips it never saw (another seed): far above the 10 % of chance
        let clips = SyntheticSkeletons(seed: 5).clips(100)
        let logits = model.referenceLogits(clips.sequences.map(Preprocessing.normalize))
        let correct = zip(logits, clips.labels).filter { predictedClass($0) == $1 }.count
        #expect(correct >= 90, "\(correct) of 100")
    }
}
