/// A dense real tensor in row-major (C) order, the layout of PyTorch's `state_dict` and of the
/// paper's CSV files: the last index varies fastest.
///
/// Invariant: `values.count == shape.reduce(1, *)`. A scalar has shape `[]` and one value.
public struct Tensor: Equatable, Sendable {
    /// The dimensions, outermost first.
    public private(set) var shape: [Int]
    /// The values in row-major order.
    public var values: [Double]

    /// A tensor with the given shape and values; the count must match the shape.
    public init(shape: [Int], values: [Double]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative tensor dimension")
        precondition(values.count == Tensor.elementCount(of: shape),
                     "tensor of shape \(shape) needs \(Tensor.elementCount(of: shape)) values, got \(values.count)")
        self.shape = shape
        self.values = values
    }

    /// A tensor of zeros.
    public init(zeros shape: [Int]) {
        self.init(shape: shape, values: [Double](repeating: 0, count: Tensor.elementCount(of: shape)))
    }

    /// The number of values a tensor of this shape holds (1 for a scalar).
    public static func elementCount(of shape: [Int]) -> Int { shape.reduce(1, *) }

    /// The number of values.
    public var count: Int { values.count }

    /// The same values viewed with another shape of the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, values: values)
    }

    /// The value at a multi-index (checked; for tests and small tools, not hot loops).
    public subscript(_ index: Int...) -> Double {
        get { values[flatIndex(index)] }
        set { values[flatIndex(index)] = newValue }
    }

    private func flatIndex(_ index: [Int]) -> Int {
        precondition(index.count == shape.count, "index rank \(index.count) for a tensor of rank \(shape.count)")
        var flat = 0
        for (i, extent) in zip(index, shape) {
            precondition(i >= 0 && i < extent, "index \(index) out of range for shape \(shape)")
            flat = flat * extent + i
        }
        return flat
    }
}
