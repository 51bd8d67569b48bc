import Common
import Model
import Sampling

/// The project's seeded generator saves and restores its whole state (words and the cached
/// normal deviate), which is what a bit-exact resume needs.
extension SeededGenerator: CheckpointableGenerator {
    public var checkpointBytes: [UInt8] { serialized() }

    public init?(checkpointBytes: [UInt8]) {
        guard let restored = try? SeededGenerator(serialized: checkpointBytes) else { return nil }
        self = restored
    }
}

/// The checkpoint's "sampler" section: the sampler's own state bytes (`Sampler.stateBytes()`,
/// which start with an 8-character ASCII tag such as "DROHWS01").
///
/// Checkpoints written before the trainer called the sampler directly hold a wrapper instead:
/// the state bytes as a length-prefixed blob, then a count-prefixed array of the last loss per
/// sample (a log column the trainer kept itself). Its first 8 bytes are the blob's length, whose
/// high bytes are 0 — never an ASCII tag — so the two are told apart; the old last losses are
/// dropped (the hardness sampler's log column is its own history; a uniform run resumed from
/// such a checkpoint logs nan for cases not drawn since).
public enum SamplerSection {
    public static let name = "sampler"
    /// Length of the ASCII tag every sampler state starts with.
    static let tagLength = 8

    /// Restores `sampler` from the section's bytes; errors name the checkpoint and section.
    public static func restore(_ sampler: any Sampler, from bytes: [UInt8], path: String) throws {
        var state = bytes
        if !startsWithTag(bytes) {
            var reader = ByteReader(bytes, path: path, section: name)
            state = try reader.blob("sampler state")
            let lastLosses = try reader.doubles("last losses")
            try reader.finish()
            guard lastLosses.count == sampler.count else {
                throw CheckpointError.badSection(path: path, name: name,
                                                 reason: "\(lastLosses.count) samples, the data set has \(sampler.count)")
            }
        }
        do {
            try sampler.restore(from: state)
        } catch {
            throw CheckpointError.badSection(path: path, name: name, reason: "\(error)")
        }
    }

    static func startsWithTag(_ bytes: [UInt8]) -> Bool {
        bytes.count >= tagLength && bytes.prefix(tagLength).allSatisfy { (0x20..<0x7F).contains($0) }
    }
}
