// The training loop's `BatchSource` over cases in memory: the sampler's sample index is a case
// (`sampler.unit: case`) or a patch cell of Sampling's `PatchCells` (`sampler.unit: patch`).

import Sampling

/// What one sample of the sampler is.
public enum SamplingUnit: Sendable {
    /// A training case; each draw takes a random patch of it, a share forced to foreground.
    case wholeCase
    /// A (case, patch-sized cell) of the foreground box; each draw takes the cell jittered by
    /// `jitter` (see `PatchSampler.origin(cellOrigin:shape:jitter:)`).
    case patchCell(patchSize: GridShape, jitter: Double)
}

/// Cuts and augments training patches (`BatchBuilder`) for the indices the sampler drew.
public struct PatchBatchSource<Generator: CheckpointableGenerator>: BatchSource {
    public typealias Batch = TrainingBatch

    public let cases: [CaseVolume]
    public let builder: BatchBuilder
    /// Nil for `.wholeCase`.
    public let cells: PatchCells?
    public let jitter: Double
    /// One name per sample: the case id, or "<id>_x<x>_y<y>_z<z>" for a cell (CSV-safe).
    public let caseNames: [String]
    public let caseGroups: [String]

    /// `cases` preprocessed and labelled; `unit` decides what a sample is. For patch cells the
    /// cell size must equal the builder's patch size.
    public init(cases: [CaseVolume], builder: BatchBuilder, unit: SamplingUnit = .wholeCase) throws {
        guard !cases.isEmpty else {
            throw DataError.invalidOption(key: "training cases", value: "0", allowed: "at least one case")
        }
        for c in cases where c.label == nil {
            throw DataError.invalidOption(key: "case \(c.id)", value: "no label", allowed: "a labelled case")
        }
        self.cases = cases
        self.builder = builder
        switch unit {
        case .wholeCase:
            cells = nil
            jitter = 0
            caseNames = cases.map(\.id)
            caseGroups = cases.map { $0.group ?? "" }
        case let .patchCell(size, j):
            guard size == builder.sampler.patchSize else {
                throw DataError.invalidOption(key: "sampler.patch_size", value: "\(size)",
                                              allowed: "the training patch size \(builder.sampler.patchSize)")
            }
            guard j >= 0, j <= 1 else {
                throw DataError.invalidOption(key: "patch_jitter", value: "\(j)", allowed: "a fraction in [0, 1]")
            }
            let grid = try PatchCells(cases: cases.map(\.patchCellCase), patchSize: size.voxel3)
            var names = [String](), groups = [String]()
            for k in 0..<grid.count {
                guard let (ci, o) = grid.cell(k) else { continue }
                names.append("\(cases[ci].id)_x\(o.x)_y\(o.y)_z\(o.z)")
                groups.append(cases[ci].group ?? "")
            }
            cells = grid
            jitter = j
            caseNames = names
            caseGroups = groups
        }
    }

    /// Patches for the drawn samples; every random choice comes from `generator`.
    public func batch(cases indices: [Int], generator: inout Generator) throws -> TrainingBatch {
        guard let cells else {
            return try builder.makeBatch(cases: self.cases, caseIndices: indices, using: &generator)
        }
        var drawn = [(caseIndex: Int, cellOrigin: GridPoint)]()
        for i in indices {
            guard let (ci, origin) = cells.cell(i) else {
                throw DataError.invalidOption(key: "sample index", value: "\(i)", allowed: "0..<\(cells.count)")
            }
            drawn.append((ci, GridPoint(origin)))
        }
        return try builder.makeBatch(cases: self.cases, cells: drawn, jitter: jitter, using: &generator)
    }
}
