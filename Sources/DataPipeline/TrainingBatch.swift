// A batch of training patches for the trainer: B×C×P images and B×P labels (P = D×H×W).

import Config

/// nnU-Net's `oversample_foreground_percent` (0.33): the share of a batch forced to foreground
/// (`training.foreground_fraction`'s default).
public let defaultForegroundFraction = TrainingConfig().foregroundFraction

public struct TrainingBatch: Sendable {
    public var patchSize: GridShape
    public var channels: Int
    /// B×C×D×H×W.
    public var images: [Float]
    /// B×D×H×W; 0 where the patch was padded.
    public var labels: [UInt8]
    public var caseIndices: [Int]
    public var origins: [GridPoint]
    public var forcedForeground: [Bool]
    public var count: Int { caseIndices.count }
}

/// Builds batches from cases in memory: sampling the patch location, then augmenting.
public struct BatchBuilder: Sendable {
    public let sampler: PatchSampler
    public let augmenter: Augmenter
    /// Share of each batch forced to contain foreground (see `PatchSampler.forcedForeground`).
    public let foregroundFraction: Double

    public init(patchSize: GridShape, augmentation: AugmentationOptions = AugmentationOptions(),
                foregroundFraction: Double = defaultForegroundFraction) throws {
        guard foregroundFraction >= 0, foregroundFraction <= 1 else {
            throw DataError.invalidOption(key: "foreground_fraction", value: "\(foregroundFraction)",
                                          allowed: "a fraction in [0, 1]")
        }
        sampler = try PatchSampler(patchSize: patchSize)
        augmenter = try Augmenter(options: augmentation, patchSize: patchSize)
        self.foregroundFraction = foregroundFraction
    }

    /// One patch per entry of `caseIndices` (`sampler.unit: case`); the last
    /// max(1, round(B·fraction)) are forced to foreground.
    public func makeBatch(cases: [CaseVolume], caseIndices: [Int],
                          using rng: inout some RandomNumberGenerator) throws -> TrainingBatch {
        let forced = PatchSampler.forcedForeground(batchSize: caseIndices.count, fraction: foregroundFraction)
        var origins = [GridPoint]()
        for (b, i) in caseIndices.enumerated() {
            try check(i, cases)
            origins.append(sampler.origin(for: cases[i], forceForeground: forced[b], using: &rng))
        }
        return try assemble(cases: cases, caseIndices: caseIndices, origins: origins, forced: forced, using: &rng)
    }

    /// One patch per (case, cell origin) (`sampler.unit: patch`): the cell, jittered by
    /// `PatchSampler.origin(cellOrigin:shape:jitter:)`; no foreground forcing — the cell decides.
    public func makeBatch(cases: [CaseVolume], cells: [(caseIndex: Int, cellOrigin: GridPoint)], jitter: Double = 1,
                          using rng: inout some RandomNumberGenerator) throws -> TrainingBatch {
        var origins = [GridPoint]()
        for (i, cell) in cells {
            try check(i, cases)
            origins.append(try sampler.origin(cellOrigin: cell, shape: cases[i].shape, jitter: jitter, using: &rng))
        }
        return try assemble(cases: cases, caseIndices: cells.map(\.caseIndex), origins: origins,
                            forced: [Bool](repeating: false, count: cells.count), using: &rng)
    }

    /// Slots `slots` of a global batch of `globalCount` patches (data-parallel training: each
    /// rank builds its own slots of the same global batch). Slot s takes every random choice
    /// (patch origin, then augmentation) from its own generator `generators[s - slots.lowerBound]`,
    /// so the patch of a slot does not depend on which rank builds it nor on how many ranks
    /// there are. `sampler.unit: case`: the foreground forcing is the global batch's (the last
    /// max(1, round(globalCount·fraction)) slots). `cells` (`sampler.unit: patch`), when given,
    /// holds each slot's cell origin, and no slot is forced.
    public func makeSlots<G: RandomNumberGenerator>(cases: [CaseVolume], caseIndices: [Int],
                                                    cells: [GridPoint]? = nil, jitter: Double = 1,
                                                    slots: Range<Int>, globalCount: Int,
                                                    generators: inout [G]) throws -> TrainingBatch {
        precondition(caseIndices.count == slots.count && generators.count == slots.count
                     && slots.upperBound <= globalCount && (cells?.count ?? slots.count) == slots.count)
        let forced = cells != nil ? [Bool](repeating: false, count: globalCount)
            : PatchSampler.forcedForeground(batchSize: globalCount, fraction: foregroundFraction)
        let channels = caseIndices.first.map { cases.indices.contains($0) ? cases[$0].channels : 0 } ?? 0
        var images = [Float](), labels = [UInt8](), origins = [GridPoint]()
        images.reserveCapacity(caseIndices.count * channels * sampler.patchSize.count)
        for (b, i) in caseIndices.enumerated() {
            try check(i, cases)
            guard cases[i].channels == channels else {
                throw DataError.invalidOption(key: "case \(cases[i].id) channels", value: "\(cases[i].channels)",
                                              allowed: "\(channels) like the other cases of the batch")
            }
            let origin = try cells.map {
                try sampler.origin(cellOrigin: $0[b], shape: cases[i].shape, jitter: jitter, using: &generators[b])
            } ?? sampler.origin(for: cases[i], forceForeground: forced[slots.lowerBound + b], using: &generators[b])
            origins.append(origin)
            let p = augmenter.makePatch(from: cases[i], origin: origin, using: &generators[b])
            images.append(contentsOf: p.image)
            labels.append(contentsOf: p.label ?? [UInt8](repeating: 0, count: sampler.patchSize.count))
        }
        return TrainingBatch(patchSize: sampler.patchSize, channels: channels, images: images, labels: labels,
                             caseIndices: caseIndices, origins: origins, forcedForeground: Array(forced[slots]))
    }

    func check(_ i: Int, _ cases: [CaseVolume]) throws {
        guard cases.indices.contains(i) else {
            throw DataError.invalidOption(key: "case index", value: "\(i)", allowed: "0..<\(cases.count)")
        }
        guard cases[i].label != nil else {
            throw DataError.invalidOption(key: "case \(cases[i].id)", value: "no label", allowed: "a labelled case")
        }
    }

    func assemble(cases: [CaseVolume], caseIndices: [Int], origins: [GridPoint], forced: [Bool],
                  using rng: inout some RandomNumberGenerator) throws -> TrainingBatch {
        let channels = cases[caseIndices.first ?? 0].channels
        var images = [Float](), labels = [UInt8]()
        images.reserveCapacity(caseIndices.count * channels * sampler.patchSize.count)
        for (b, i) in caseIndices.enumerated() {
            guard cases[i].channels == channels else {
                throw DataError.invalidOption(key: "case \(cases[i].id) channels", value: "\(cases[i].channels)",
                                              allowed: "\(channels) like the other cases of the batch")
            }
            let p = augmenter.makePatch(from: cases[i], origin: origins[b], using: &rng)
            images.append(contentsOf: p.image)
            labels.append(contentsOf: p.label ?? [UInt8](repeating: 0, count: sampler.patchSize.count))
        }
        return TrainingBatch(patchSize: sampler.patchSize, channels: channels, images: images, labels: labels,
                             caseIndices: caseIndices, origins: origins, forcedForeground: forced)
    }
}
