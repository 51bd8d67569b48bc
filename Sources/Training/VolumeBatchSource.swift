import DataPipeline
import Sampling

/// Training batches from preprocessed cases (in memory or in the run's case cache): for each
/// drawn sample a patch is placed (random, forced foreground, or inside the drawn patch cell)
/// and augmented by the data pipeline's `BatchBuilder`, every random choice taken from the
/// checkpointed generator (the trainer's path: one child stream per slot of the global batch,
/// `batch(globalCases:slots:generator:)`). Only the drawn cases are loaded, so where a case lives does not
/// change the batch.
public struct VolumeBatchSource: BatchSource {
    public typealias Generator = SeededGenerator

    public let store: CaseStore
    public let builder: BatchBuilder
    /// With `sampler.unit: patch`, sample i is a patch cell of a case; nil = sample i is case i.
    public let cells: PatchCells?

    public init(store: CaseStore, builder: BatchBuilder, cells: PatchCells?) {
        self.store = store
        self.builder = builder
        self.cells = cells
    }

    public init(cases: [CaseVolume], builder: BatchBuilder, cells: PatchCells?) {
        self.init(store: CaseStore(cases), builder: builder, cells: cells)
    }

    /// Sample count the sampler must have.
    public var sampleCount: Int { cells?.count ?? store.count }

    public var caseNames: [String] {
        guard let cells else { return store.ids }
        return (0..<cells.count).map { index in
            guard let (c, origin) = cells.cell(index) else { return "?" }
            return "\(store.entries[c].id)@\(origin.x):\(origin.y):\(origin.z)"
        }
    }

    public var caseGroups: [String] {
        guard let cells else { return store.entries.map { $0.group ?? "" } }
        return (0..<cells.count).map { index in
            cells.cell(index).map { store.entries[$0.caseIndex].group ?? "" } ?? ""
        }
    }

    public func batch(cases indices: [Int], generator: inout SeededGenerator) throws -> TrainingBatch {
        guard let cells else {
            let (loaded, local) = try load(indices)
            var batch = try builder.makeBatch(cases: loaded, caseIndices: local, using: &generator)
            batch.caseIndices = indices
            return batch
        }
        let chosen = try indices.map { index -> (caseIndex: Int, cellOrigin: GridPoint) in
            guard let (c, origin) = cells.cell(index) else {
                throw RunError.step(iteration: 0, reason: "sample \(index) is not a patch cell (0..<\(cells.count))")
            }
            return (c, GridPoint(origin))
        }
        let (loaded, local) = try load(chosen.map(\.caseIndex))
        var batch = try builder.makeBatch(cases: loaded, cells: zip(local, chosen).map { ($0, $1.cellOrigin) },
                                          using: &generator)
        batch.caseIndices = chosen.map(\.caseIndex)
        return batch
    }

    /// Slots `slots` of the global batch `indices` (what the trainer calls): one child stream per
    /// global slot is spawned from `generator`, in slot order, on every rank; only the slots in
    /// `slots` are loaded and built. The patch of global slot s is therefore the same whether one
    /// process builds all G slots or R ranks build B each.
    public func batch(globalCases indices: [Int], slots: Range<Int>,
                      generator: inout SeededGenerator) throws -> TrainingBatch {
        var streams = indices.map { _ in generator.spawn() }
        var mine = Array(streams[slots])
        streams.removeAll()
        let local = Array(indices[slots])
        guard let cells else {
            let (loaded, positions) = try load(local)
            var batch = try builder.makeSlots(cases: loaded, caseIndices: positions, slots: slots,
                                              globalCount: indices.count, generators: &mine)
            batch.caseIndices = local
            return batch
        }
        let chosen = try local.map { index -> (caseIndex: Int, cellOrigin: GridPoint) in
            guard let (c, origin) = cells.cell(index) else {
                throw RunError.step(iteration: 0, reason: "sample \(index) is not a patch cell (0..<\(cells.count))")
            }
            return (c, GridPoint(origin))
        }
        let (loaded, positions) = try load(chosen.map(\.caseIndex))
        var batch = try builder.makeSlots(cases: loaded, caseIndices: positions, cells: chosen.map(\.cellOrigin),
                                          slots: slots, globalCount: indices.count, generators: &mine)
        batch.caseIndices = chosen.map(\.caseIndex)
        return batch
    }

    /// The distinct cases among `indices`, loaded once each, and each index's position in them.
    func load(_ indices: [Int]) throws -> (cases: [CaseVolume], local: [Int]) {
        var loaded: [CaseVolume] = []
        var position: [Int: Int] = [:]
        let local = try indices.map { index -> Int in
            if let p = position[index] { return p }
            position[index] = loaded.count
            loaded.append(try store.volume(index))
            return loaded.count - 1
        }
        return (loaded, local)
    }
}
