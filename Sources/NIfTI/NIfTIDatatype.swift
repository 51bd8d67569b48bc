/// NIfTI datatype codes this module stores (nifti1.h `NIFTI_TYPE_*`; identical in NIfTI-2).
public enum NIfTIDatatype: Int, CaseIterable, Sendable {
    case uint8 = 2, int16 = 4, int32 = 8, float32 = 16, float64 = 64
    case int8 = 256, uint16 = 512, uint32 = 768, int64 = 1024

    /// Bytes per voxel (nifti1.h `bitpix` / 8).
    public var byteSize: Int {
        switch self {
        case .uint8, .int8: return 1
        case .int16, .uint16: return 2
        case .int32, .uint32, .float32: return 4
        case .int64, .float64: return 8
        }
    }

    /// The numpy-style name (as nibabel prints it).
    public var name: String {
        switch self {
        case .uint8: return "uint8"
        case .int8: return "int8"
        case .int16: return "int16"
        case .uint16: return "uint16"
        case .int32: return "int32"
        case .uint32: return "uint32"
        case .int64: return "int64"
        case .float32: return "float32"
        case .float64: return "float64"
        }
    }

    /// Codes defined by nifti1.h that this module recognises but does not store
    /// (RGB, complex, float128): reading them is a clear "unsupported datatype" error.
    static let unsupportedNames: [Int: String] = [
        0: "unknown", 1: "binary", 32: "complex64", 128: "rgb24", 1536: "float128",
        1792: "complex128", 2048: "complex256", 2304: "rgba32",
    ]

    /// The list of accepted codes, for error messages.
    static var allowedDescription: String {
        allCases.map { "\($0.rawValue) (\($0.name))" }.joined(separator: ", ")
    }
}
