/// `dro-inspect`: a header and data summary per file (like nib-ls / fslhd), as text or as one
/// JSON object per line, and a test-only way to make dro-seg write files (`--write-copy`).
public enum Inspect {
    /// What `--write-copy` stores: the input's datatype, a given one, or `labels` (via
    /// `NIfTIImage.like(_:shape:labels:)`: uint8, or uint16 above 255). Whatever the type, the
    /// copy keeps the input's format version, geometry and extensions.
    public enum CopyType: Equatable, Sendable {
        case same
        case datatype(NIfTIDatatype)
        case labels

        /// Parses "same", "labels" or a datatype name (uint8, int16, float32, ...).
        public init?(name: String) {
            switch name {
            case "same": self = .same
            case "labels": self = .labels
            default:
                guard let t = NIfTIDatatype.allCases.first(where: { $0.name == name }) else { return nil }
                self = .datatype(t)
            }
        }

        public static var choices: String {
            (["same", "labels"] + NIfTIDatatype.allCases.map(\.name)).joined(separator: ", ")
        }
    }

    public struct Options: Sendable {
        public var paths: [String]
        public var json = false
        /// When set (one input only): read the input and write it again here.
        public var writeCopy: String?
        public var copyType = CopyType.same
        public var gzipLevel = NIfTIImage.defaultGzipLevel

        public init(paths: [String]) { self.paths = paths }
    }

    /// Runs dro-inspect: prints one report per file to `output` and one error line per failed
    /// file to `errors`. Returns the exit status: 0 when every file was read (and written), 1
    /// otherwise.
    public static func run(_ options: Options, output: (String) -> Void, errors: (String) -> Void) -> Int32 {
        var status: Int32 = 0
        for path in options.paths {
            do {
                let image = try NIfTIImage.read(path: path)
                output(options.json ? jsonReport(image, path: path) : textReport(image, path: path))
                if let destination = options.writeCopy {
                    try copy(image, type: options.copyType, source: path).write(to: destination, gzipLevel: options.gzipLevel)
                }
            } catch {
                errors("dro-inspect: \(error)")
                status = 1
            }
        }
        return status
    }

    /// The image re-made through the public API a segmentation writer uses (`like`,
    /// `converted`): the input's format (NIfTI-1 or NIfTI-2), geometry and extensions.
    static func copy(_ image: NIfTIImage, type: CopyType, source: String) throws -> NIfTIImage {
        switch type {
        case .same: return try image.converted(to: image.datatype, path: source)
        case .datatype(.float32): return NIfTIImage.like(image, shape: image.shape, values: image.floatValues())
        case .datatype(let t): return try image.converted(to: t, path: source)
        case .labels:
            let labels = try image.converted(to: .int32, path: source)
            let values = labels.data.withUnsafeBytes { raw in raw.withMemoryRebound(to: Int32.self) { Array($0) } }
            return NIfTIImage.like(image, shape: image.shape, labels: values)
        }
    }

    /// One-line JSON object: path, format, shape, datatype (code), pixdim, qform_code,
    /// sform_code, affine (rows), scl_slope, scl_inter, extensions ({code, esize} in file
    /// order), stats. Non-finite numbers are null.
    public static func jsonReport(_ image: NIfTIImage, path: String) -> String {
        let h = image.header
        let s = image.statistics()
        let stats = "{\"count\":\(s.count),\"nan_count\":\(s.nanCount),\"min\":\(num(s.finiteCount > 0 ? s.min : nil))"
            + ",\"max\":\(num(s.finiteCount > 0 ? s.max : nil)),\"sum\":\(num(s.sum)),\"mean\":\(num(s.mean))}"
        let fields: [(String, String)] = [
            ("path", string(path)),
            ("format", string(h.format.rawValue)),
            ("shape", "[" + image.shape.map(String.init).joined(separator: ",") + "]"),
            ("datatype", "\(h.datatype.rawValue)"),
            ("pixdim", list(h.pixdim)),
            ("qform_code", "\(h.qformCode)"),
            ("sform_code", "\(h.sformCode)"),
            ("affine", "[" + image.affine.map(list).joined(separator: ",") + "]"),
            ("scl_slope", num(h.sclSlope)),
            ("scl_inter", num(h.sclInter)),
            ("extensions", "[" + h.extensions.map { "{\"code\":\($0.code),\"esize\":\(8 + $0.content.count)}" }.joined(separator: ",") + "]"),
            ("stats", stats),
        ]
        return "{" + fields.map { "\(string($0.0)):\($0.1)" }.joined(separator: ",") + "}"
    }

    /// Human-readable summary.
    public static func textReport(_ image: NIfTIImage, path: String) -> String {
        let h = image.header
        let s = image.statistics()
        let fmt = { (v: Double) in String(describing: v) }
        let scaling = h.scaling.map { "value = \(fmt($0.slope)) × stored + \(fmt($0.inter))" }
            ?? "none (scl_slope \(fmt(h.sclSlope)))"
        var lines = [
            path,
            "  format      \(h.format.rawValue), \(h.littleEndian ? "little" : "big")-endian, \(h.isPair ? ".hdr/.img pair" : "single file"), vox_offset \(h.voxOffset)",
            "  shape       \(image.shape.map(String.init).joined(separator: " × "))",
            "  datatype    \(h.datatype.name) (\(h.datatype.rawValue))",
            "  pixdim      \(h.pixdim.map(fmt).joined(separator: " "))  (units: space \(h.spaceUnit), time \(h.timeUnit))",
            "  spacing     \(image.spacing.map(fmt).joined(separator: " "))",
            "  qform_code  \(h.qformCode) (\(xformName(h.qformCode)))   sform_code \(h.sformCode) (\(xformName(h.sformCode)))",
            "  affine      (\(affineSource(h)); axes \(NIfTIAffine.axisCodes(of: image.affine)))",
        ]
        lines += image.affine.map { "    " + $0.map(fmt).joined(separator: "  ") }
        lines.append("  scaling     \(scaling)")
        lines.append("  extensions  " + (h.extensions.isEmpty ? "none"
            : h.extensions.map { "code \($0.code) (\(8 + $0.content.count) bytes)" }.joined(separator: ", ")))
        lines.append("  values      count \(s.count), NaN \(s.nanCount), min \(s.finiteCount > 0 ? fmt(s.min) : "-"), "
            + "max \(s.finiteCount > 0 ? fmt(s.max) : "-"), sum \(fmt(s.sum)), mean \(s.mean.map(fmt) ?? "-")")
        return lines.joined(separator: "\n")
    }

    static func affineSource(_ h: NIfTIHeader) -> String {
        if NIfTIAffine.isUsable(code: h.sformCode) { return "from sform" }
        if NIfTIAffine.isUsable(code: h.qformCode) { return "from qform" }
        return "from pixdim, centred: no usable sform/qform code"
    }

    /// nifti1.h NIFTI_XFORM_* names.
    static func xformName(_ code: Int) -> String {
        switch code {
        case 0: return "unknown"
        case 1: return "scanner"
        case 2: return "aligned"
        case 3: return "talairach"
        case 4: return "mni"
        case 5: return "template"
        default: return "invalid"
        }
    }

    static func num(_ v: Double?) -> String {
        guard let v, v.isFinite else { return "null" }
        return String(describing: v)
    }

    static func list(_ values: [Double]) -> String { "[" + values.map { num($0) }.joined(separator: ",") + "]" }

    static func string(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where u.value < 0x20: out += unicodeEscape(u.value)   // control characters (RFC 8259 §7)
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }

    private static func unicodeEscape(_ value: UInt32) -> String {
        let hex = String(value, radix: 16)
        return "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
    }
}
