import Foundation
import Model
import Tensor

/// Which kernels a run computed with, saved as the checkpoint's "compute" section: OpenBLAS's
/// core and our own kernel choices (`KernelChoice`). Float sums come out in a different order
/// under other kernels, so a resume on a machine that runs other ones continues correctly but
/// not bit-identically to an uninterrupted run — `resumeWarning` says so instead of letting the
/// run drift silently.
public struct ComputeRecord: Codable, Equatable, Sendable {
    public static let sectionName = "compute"
    public var openblasCore: String
    public var kernels: [String: String]

    enum CodingKeys: String, CodingKey {
        case openblasCore = "openblas_core"
        case kernels
    }

    public init(openblasCore: String, kernels: [String: String]) {
        self.openblasCore = openblasCore
        self.kernels = kernels
    }

    /// What this process runs.
    public static var current: ComputeRecord {
        ComputeRecord(openblasCore: BLASRuntime.coreName, kernels: KernelChoice.summary)
    }

    /// The warning to print when resuming from `checkpoint` here, or nil when the kernels agree
    /// (or the checkpoint predates the record: nothing to compare).
    public static func resumeWarning(_ checkpoint: Checkpoint, path: String,
                                     current: ComputeRecord = .current) throws -> String? {
        guard checkpoint.sections.contains(where: { $0.name == sectionName }) else { return nil }
        let saved = try checkpoint.decode(ComputeRecord.self, section: sectionName, path: path)
        guard saved != current else { return nil }
        var differences: [String] = []
        if saved.openblasCore != current.openblasCore {
            differences.append("OpenBLAS \(saved.openblasCore) → \(current.openblasCore)")
        }
        for key in Set(saved.kernels.keys).union(current.kernels.keys).sorted()
        where saved.kernels[key] != current.kernels[key] {
            differences.append("\(key) \(saved.kernels[key] ?? "none") → \(current.kernels[key] ?? "none")")
        }
        return "warning: \(path) was written with other kernels (\(differences.joined(separator: ", "))); "
            + "training continues, but not bit-identically to an uninterrupted run"
    }
}
