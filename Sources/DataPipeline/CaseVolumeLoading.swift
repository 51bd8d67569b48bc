// Bridges the dataset layer's checked reader (`CaseLoader`, Dataset/) to the in-memory case the
// data pipeline works on. One reader serves dry runs, training and inference.

extension CaseVolume {
    /// The in-memory case of a `LoadedCase` read and checked by `CaseLoader`. Label values were
    /// checked against the declared classes there; they must also fit the pipeline's UInt8.
    public init(_ loaded: LoadedCase) throws {
        var label: [UInt8]? = nil
        if let values = loaded.label {
            var out = [UInt8](repeating: 0, count: values.count)
            for (i, v) in values.enumerated() {
                guard v >= 0, v <= Int32(UInt8.max) else {
                    throw DataError.invalidLabel(file: "case \(loaded.id) label", value: Double(v),
                                                 allowed: "integers 0…255")
                }
                out[i] = UInt8(v)
            }
            label = out
        }
        try self.init(id: loaded.id, channels: loaded.channels, shape: GridShape(niftiShape: loaded.shape),
                      image: loaded.image, label: label, spacing: Spacing(loaded.spacing),
                      affine: loaded.affine, group: loaded.group)
    }

    /// Reads, checks (every problem of the case at once, `DatasetError`) and converts a case.
    public static func load(_ files: CaseFiles, channels: Int, classes: Int) throws -> CaseVolume {
        try CaseVolume(CaseLoader.load(files, channels: channels, classes: classes))
    }
}
