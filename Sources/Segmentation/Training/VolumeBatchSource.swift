import Sampling

/// Training batches from preprocessed cases in memory: for each drawn sample a patch is placed
/// (random, forced foreground, or inside the drawn patch cell) and augmented by the data
/// pipeline's `BatchBuilder`, every random choice taken from the checkpointed generator.
public struct VolumeBatchSource: BatchSource {
    public typealias Generator = SeededGenerator

    public let cases: [CaseVolume]
    public let builder: BatchBuilder
    /// With `sampler.unit: patch`, sample i is a patch cell of a case; nil = sample i is case i.
    public let cells: PatchCells?

    public init(cases: [CaseVolume], builder: BatchBuilder, cells: PatchCells?) {
        self.cases = cases
        self.builder = builder
        self.cells = cells
    }

    /// Sample count the sampler must have.
    public var sampleCount: Int { cells?.count ?? cases.count }

    public var caseNames: [String] {
        guard let cells else { return cases.map(\.id) }
        return (0..<cells.count).map { index in
            guard let (c, origin) = cells.cell(index) else { return "?" }
            return "\(cases[c].id)@\(origin.x):\(origin.y):\(origin.z)"
        }
    }

    public var caseGroups: [String] {
        guard let cells else { return cases.map { $0.group ?? "" } }
        return (0..<cells.count).map { index in cells.cell(index).map { cases[$0.caseIndex].group ?? "" } ?? "" }
    }

    public func batch(cases indices: [Int], generator: inout SeededGenerator) throws -> TrainingBatch {
        guard let cells else {
            return try builder.makeBatch(cases: cases, caseIndices: indices, using: &generator)
        }
        let chosen = try indices.map { index -> (caseIndex: Int, cellOrigin: GridPoint) in
            guard let (c, origin) = cells.cell(index) else {
                throw RunError.step(iteration: 0, reason: "sample \(index) is not a patch cell (0..<\(cells.count))")
            }
            return (c, GridPoint(origin))
        }
        return try builder.makeBatch(cases: cases, cells: chosen, using: &generator)
    }
}
