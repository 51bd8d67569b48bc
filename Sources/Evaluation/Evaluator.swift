import Dispatch
import Foundation

/// Scores of one case: `metrics[method][labelIndex]`, methods in `EvaluationResults.methods`
/// order, labels in `EvaluationResults.labels` order.
public struct CaseResult: Sendable {
    public var caseID: String
    public var group: String?
    public var metrics: [[LabelMetrics]]
}

/// Everything dro-eval computed, before formatting.
public struct EvaluationResults: Sendable {
    public var labels: [LabelInfo]
    /// Prediction sources: the primary first, then `--compare`.
    public var methods: [String]
    public var cases: [CaseResult]
    /// Cases that could not be scored, with the one-line reason.
    public var caseErrors: [(caseID: String, message: String)]
    public var match: CaseMatch
    public var options: MetricOptions
}

/// Scores matched cases: cases in chunks (bounded memory), within a chunk the volumes are read
/// and then every (case, method, label) is scored concurrently on all cores.
public enum Evaluator {
    /// Cases held in memory at once: one per core keeps both cores busy while reading.
    static var chunkSize: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }

    /// - Parameters:
    ///   - labels: labels to score; nil = every non-zero label found in the ground truths.
    ///   - groups: case → group (nil = no grouping).
    public static func evaluate(match: CaseMatch, methods: [String], labels: [LabelInfo]?,
                                groups: [String: String]?, options: MetricOptions) -> EvaluationResults {
        var scored: [(id: String, values: [Int32], metrics: [[LabelMetrics]])] = []
        var errors: [(caseID: String, message: String)] = []
        var gtLabelsFound = Set<Int32>()
        var start = 0
        while start < match.cases.count {
            let chunk = Array(match.cases[start..<min(start + chunkSize, match.cases.count)])
            start += chunk.count
            let loaded = load(chunk)
            var items: [(caseIndex: Int, method: Int, label: Int32)] = []
            for (c, entry) in loaded.enumerated() {
                guard case let .success(volumes) = entry else { continue }
                let wanted = labels.map { $0.map(\.value) } ?? volumes.presentLabels
                for m in 0..<methods.count { for l in wanted { items.append((c, m, l)) } }
            }
            var out = [LabelMetrics?](repeating: nil, count: items.count)
            out.withUnsafeMutableBufferPointer { results in
                DispatchQueue.concurrentPerform(iterations: items.count) { k in
                    let item = items[k]
                    guard case let .success(v) = loaded[item.caseIndex] else { return }
                    results[k] = v.score(method: item.method, label: item.label, options: options)
                }
            }
            var k = 0
            for (c, entry) in loaded.enumerated() {
                switch entry {
                case let .failure(error):
                    errors.append((chunk[c].caseID, "\(error)"))
                case let .success(volumes):
                    gtLabelsFound.formUnion(volumes.gtLabels)
                    let wanted = labels.map { $0.map(\.value) } ?? volumes.presentLabels
                    var perMethod: [[LabelMetrics]] = []
                    for _ in 0..<methods.count {
                        perMethod.append(wanted.map { _ in defer { k += 1 }; return out[k]! })
                    }
                    scored.append((chunk[c].caseID, wanted, perMethod))
                }
            }
        }
        let finalLabels = labels ?? LabelSource.found(inGroundTruth: gtLabelsFound)
        let empty = bothEmpty(options)
        let cases = scored.map { s -> CaseResult in
            let metrics = s.metrics.map { perLabel in
                finalLabels.map { label in s.values.firstIndex(of: label.value).map { perLabel[$0] } ?? empty }
            }
            return CaseResult(caseID: s.id, group: groups?[s.id], metrics: metrics)
        }
        return EvaluationResults(labels: finalLabels, methods: methods, cases: cases,
                                 caseErrors: errors, match: match, options: options)
    }

    /// Result of a label absent from both masks of a case.
    static func bothEmpty(_ options: MetricOptions) -> LabelMetrics {
        SegmentationMetrics.compare(box: nil, shape: [1, 1, 1], spacing: [1, 1, 1], options: options,
                                    isGT: { _ in false }, isPred: { _ in false })
    }

    /// Reads the volumes of a chunk concurrently and checks their grids.
    static func load(_ chunk: [CasePaths]) -> [Result<CaseVolumes, EvaluationError>] {
        var out = [Result<CaseVolumes, EvaluationError>?](repeating: nil, count: chunk.count)
        out.withUnsafeMutableBufferPointer { results in
            DispatchQueue.concurrentPerform(iterations: chunk.count) { c in
                results[c] = Result { try CaseVolumes(chunk[c]) }.mapError {
                    $0 as? EvaluationError ?? .unreadable(path: chunk[c].gt, reason: "\($0)")
                }
            }
        }
        return out.map { $0! }
    }
}

/// The ground truth and every prediction of one case, with per-label bounding boxes.
struct CaseVolumes {
    let gt: LabelVolume
    let predictions: [LabelVolume]
    let gtBoxes: [VoxelBox?]
    let predBoxes: [[VoxelBox?]]

    init(_ paths: CasePaths) throws {
        gt = try LabelVolume.read(paths.gt)
        var preds: [LabelVolume] = []
        for p in paths.predictions {
            let v = try LabelVolume.read(p)
            try gt.checkSameGrid(as: v, caseID: paths.caseID)
            preds.append(v)
        }
        predictions = preds
        let maxLabel = ([gt.maxLabel] + preds.map(\.maxLabel)).max() ?? 0
        gtBoxes = LabelBoxes.compute(labels: gt.labels, shape: gt.shape, maxLabel: maxLabel)
        predBoxes = preds.map { LabelBoxes.compute(labels: $0.labels, shape: $0.shape, maxLabel: maxLabel) }
    }

    /// Non-zero labels present in the ground truth.
    var gtLabels: [Int32] { (0..<gtBoxes.count).filter { $0 > 0 && gtBoxes[$0] != nil }.map { Int32($0) } }

    /// Non-zero labels present in the ground truth or any prediction.
    var presentLabels: [Int32] {
        (1..<max(1, gtBoxes.count)).filter { l in
            gtBoxes[l] != nil || predBoxes.contains { $0[l] != nil }
        }.map { Int32($0) }
    }

    func box(_ boxes: [VoxelBox?], _ label: Int32) -> VoxelBox? {
        Int(label) < boxes.count ? boxes[Int(label)] : nil
    }

    func score(method: Int, label: Int32, options: MetricOptions) -> LabelMetrics {
        let joint = VoxelBox.union(box(gtBoxes, label), box(predBoxes[method], label))
        return SegmentationMetrics.compare(gtLabels: gt.labels, predLabels: predictions[method].labels,
                                           label: label, box: joint, shape: gt.shape,
                                           spacing: gt.spacing, options: options)
    }
}
