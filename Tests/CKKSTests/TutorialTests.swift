import CKKS
import Testing

/// The DocC tutorials' final code (`Sources/HEAR/HEAR.docc/Resources`, linked into this target
/// under `Tutorials/`) is compiled and run here, and the numbers the tutorials show are checked.
@Suite("the DocC tutorials' code, compiled and run")
struct TutorialTests {
    @Test("your first vector: the squares the tutorial prints, one level used")
    func firstVectorRuns() throws {
        let (squares, levels) = try firstVector()
        #expect(levels == [9, 8])
        for (got, want) in zip(squares, [0.25, 2.25, 4.0, 10.5625]) {
            #expect(abs(got - want) < 1e-4, "\(got) for \(want)")
        }
    }

    @Test("the toy rotation: X → X^5 moves every slot one to the left")
    func toyRotationRuns() throws {
        let (g, digits, values) = try toyRotation()
        #expect(g == 5 && digits >= 1)
        #expect(values.count == 8)
        for (got, want) in zip(values, [2.0, 3, 4, 5, 6, 7, 8, 1]) {
            #expect(abs(got - want) < 1e-3, "\(got) for \(want)")
        }
    }
}
