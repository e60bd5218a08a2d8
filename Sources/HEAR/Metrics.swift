import Foundation

/// The predicted class of a logit vector: the index of the largest logit (the first on a tie).
public func predictedClass(_ logits: [Double]) -> Int {
    precondition(!logits.isEmpty, "no logits")
    var best = 0
    for i in logits.indices where logits[i] > logits[best] { best = i }
    return best
}

/// The paper's evaluation figures: accuracy over all classes, and fall detection as a binary
/// task (positive = fall): sensitivity TP/(TP+FN), specificity TN/(TN+FP), precision
/// TP/(TP+FP), F1 = 2·precision·sensitivity/(precision + sensitivity); plus per-class accuracy
/// (the recall of each class) and the confusion matrix. A ratio with a zero denominator is NaN.
public struct ClassificationMetrics: Sendable {
    /// Class names, in index order.
    public let classNames: [String]
    /// The class counted as positive in the binary figures (`fall`).
    public let positiveClass: Int
    /// confusion[true class][predicted class].
    public let confusion: [[Int]]

    /// Counts the confusion matrix of `predictions` against `labels` (class indices).
    public init(predictions: [Int], labels: [Int], classNames: [String] = HEARTestSet.classNames,
                positiveClass: Int = HEARTestSet.fallClass) {
        precondition(predictions.count == labels.count, "one prediction per label")
        precondition(classNames.indices.contains(positiveClass), "the positive class is one of the classes")
        var confusion = Array(repeating: [Int](repeating: 0, count: classNames.count), count: classNames.count)
        for (p, l) in zip(predictions, labels) {
            precondition(classNames.indices.contains(p) && classNames.indices.contains(l), "class index out of range")
            confusion[l][p] += 1
        }
        self.classNames = classNames
        self.positiveClass = positiveClass
        self.confusion = confusion
    }

    /// Clips counted.
    public var sampleCount: Int { confusion.joined().reduce(0, +) }
    /// Clips predicted correctly.
    public var correctCount: Int { confusion.indices.map { confusion[$0][$0] }.reduce(0, +) }
    /// correct / all.
    public var accuracy: Double { ratio(correctCount, sampleCount) }

    /// Falls predicted as falls.
    public var truePositives: Int { confusion[positiveClass][positiveClass] }
    /// Falls predicted as another class.
    public var falseNegatives: Int { confusion[positiveClass].reduce(0, +) - truePositives }
    /// Other classes predicted as falls.
    public var falsePositives: Int { confusion.indices.map { confusion[$0][positiveClass] }.reduce(0, +) - truePositives }
    /// Other classes predicted as another class than fall.
    public var trueNegatives: Int { sampleCount - truePositives - falseNegatives - falsePositives }

    /// TP/(TP + FN): the share of falls detected.
    public var sensitivity: Double { ratio(truePositives, truePositives + falseNegatives) }
    /// TN/(TN + FP): the share of non-falls that raise no alert.
    public var specificity: Double { ratio(trueNegatives, trueNegatives + falsePositives) }
    /// TP/(TP + FP): the share of alerts that are falls.
    public var precision: Double { ratio(truePositives, truePositives + falsePositives) }
    /// 2·precision·sensitivity/(precision + sensitivity).
    public var f1: Double {
        let p = precision, r = sensitivity
        return p + r > 0 ? 2 * p * r / (p + r) : .nan
    }

    /// The fraction of each class's samples predicted as that class.
    public var perClassAccuracy: [Double] {
        confusion.indices.map { ratio(confusion[$0][$0], confusion[$0].reduce(0, +)) }
    }

    private func ratio(_ a: Int, _ b: Int) -> Double { b == 0 ? .nan : Double(a) / Double(b) }

    /// The figures and the confusion matrix as a text table.
    public func report() -> String {
        func percent(_ x: Double) -> String { x.isNaN ? "n/a" : String(format: "%.2f %%", 100 * x) }
        let fall = classNames[positiveClass]
        func label(_ text: String) -> String { text.padding(toLength: 20, withPad: " ", startingAt: 0) }
        var lines: [String] = [
            "samples             \(sampleCount)",
            "accuracy            \(percent(accuracy))  (\(correctCount) of \(sampleCount))",
            label("\(fall) sensitivity") + "\(percent(sensitivity))  (\(truePositives) of \(truePositives + falseNegatives))",
            label("\(fall) specificity") + "\(percent(specificity))  (\(trueNegatives) of \(trueNegatives + falsePositives))",
            label("\(fall) precision") + "\(percent(precision))  (\(truePositives) of \(truePositives + falsePositives))",
            label("\(fall) F1") + "\(percent(f1))",
            "",
            "per-class accuracy",
        ]
        for (i, name) in classNames.enumerated() {
            lines.append("  " + name.padding(toLength: 8, withPad: " ", startingAt: 0)
                         + percent(perClassAccuracy[i]).leftPadded(9) + "  (\(confusion[i][i]) of \(confusion[i].reduce(0, +)))")
        }
        lines.append("")
        lines.append("confusion matrix (rows: true class, columns: predicted)")
        let width = max(5, classNames.map(\.count).max()! + 1)
        lines.append(String(repeating: " ", count: 8) + classNames.map { $0.leftPadded(width) }.joined())
        for (i, name) in classNames.enumerated() {
            lines.append(name.padding(toLength: 8, withPad: " ", startingAt: 0) + confusion[i].map { String($0).leftPadded(width) }.joined())
        }
        return lines.joined(separator: "\n")
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
