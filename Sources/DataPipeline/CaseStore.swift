// Where the preprocessed cases live while a run trains (`data.cache`): in memory, or in
// `CaseCacheFile`s under the run folder, read back each time a case is drawn (a 64³ case is
// ~1.3 MB: microseconds next to a training step). `auto` keeps cases in memory while they fit
// in the memory budget and sends the rest to disk, as nnU-Net keeps its preprocessed arrays on
// disk and maps them on use.

import Foundation

/// How `CaseStoreBuilder` places cases.
public enum CasePlacement: Sendable, Equatable {
    case memory
    case disk(folder: String)
    /// Memory until `budgetBytes` would be exceeded, then disk.
    case auto(folder: String, budgetBytes: Int)
}

/// Preprocessed cases in memory or on disk, with what the sampler and patch cells need to know
/// about each case without loading it.
public struct CaseStore: Sendable {
    public enum Place: Sendable {
        case memory(CaseVolume)
        case disk(path: String)
    }

    public struct Entry: Sendable {
        public let id: String
        public let group: String?
        public let shape: GridShape
        public let foregroundBox: GridBox?
        /// Voxel bytes (image + label).
        public let bytes: Int
        public let place: Place
    }

    public private(set) var entries: [Entry] = []

    public init() {}

    /// All `cases` in memory.
    public init(_ cases: [CaseVolume]) {
        for volume in cases { append(volume, place: .memory(volume)) }
    }

    mutating func append(_ volume: CaseVolume, place: Place) {
        entries.append(Entry(id: volume.id, group: volume.group, shape: volume.shape,
                             foregroundBox: volume.foregroundBoundingBox, bytes: CaseCacheFile.voxelBytes(volume),
                             place: place))
    }

    public var count: Int { entries.count }
    public var ids: [String] { entries.map(\.id) }

    /// Case `index`, read from its cache file when it lives on disk.
    public func volume(_ index: Int) throws -> CaseVolume {
        guard entries.indices.contains(index) else {
            throw DataError.invalidOption(key: "case index", value: "\(index)", allowed: "0..<\(entries.count)")
        }
        switch entries[index].place {
        case let .memory(volume): return volume
        case let .disk(path): return try CaseCacheFile.read(path: path)
        }
    }

    /// Voxel bytes held in memory / in cache files.
    public var memoryBytes: Int {
        entries.reduce(0) { if case .memory = $1.place { return $0 + $1.bytes } else { return $0 } }
    }
    public var diskBytes: Int {
        entries.reduce(0) { if case .disk = $1.place { return $0 + $1.bytes } else { return $0 } }
    }
    public var diskCount: Int {
        entries.reduce(0) { if case .disk = $1.place { return $0 + 1 } else { return $0 } }
    }
}

/// Fills a `CaseStore` one preprocessed case at a time, so at most one case beyond the budget is
/// ever in memory.
public struct CaseStoreBuilder {
    public let placement: CasePlacement
    public private(set) var store = CaseStore()
    private var usedBytes = 0

    public init(placement: CasePlacement) throws {
        self.placement = placement
        switch placement {
        case .memory: break
        case let .disk(folder), let .auto(folder, _):
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            } catch {
                throw DataError.io(path: folder, reason: "cannot create the case cache folder: \(error.localizedDescription)")
            }
        }
    }

    public mutating func add(_ volume: CaseVolume) throws {
        let bytes = CaseCacheFile.voxelBytes(volume)
        let toDisk: String?
        switch placement {
        case .memory: toDisk = nil
        case let .disk(folder): toDisk = folder
        case let .auto(folder, budget): toDisk = usedBytes + bytes > budget ? folder : nil
        }
        guard let folder = toDisk else {
            usedBytes += bytes
            store.append(volume, place: .memory(volume))
            return
        }
        let path = (folder as NSString).appendingPathComponent(CaseStoreBuilder.fileName(volume.id))
        try CaseCacheFile.write(volume, to: path)
        store.append(volume, place: .disk(path: path))
    }

    /// A file name for a case id (path separators and other odd characters replaced).
    static func fileName(_ id: String) -> String {
        let safe = id.map { $0.isLetter || $0.isNumber || "-_.".contains($0) ? $0 : "_" }
        return String(safe) + ".case"
    }

    /// Half of the memory the kernel reports available (/proc/meminfo MemAvailable): the
    /// network, its activations and the OS need the rest. nil when it cannot be read.
    public static func defaultBudgetBytes(meminfo path: String = "/proc/meminfo") -> Int? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let fields = line.split(separator: " ")
            if fields.count >= 2, let kB = Int(fields[1]) { return kB * 1024 / 2 }
        }
        return nil
    }
}
