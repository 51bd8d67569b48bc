/// The fields of a NIfTI-1 or NIfTI-2 header that dro-seg uses, in one format-independent
/// struct (NIfTI-2 widths: 64-bit dims, Double floats), and the header's extensions. Byte layouts live in
/// `NIfTIHeaderLayout.swift`; the affine is chosen in `NIfTIAffine.swift`.
public struct NIfTIHeader: Equatable, Sendable {
    public enum Format: String, Sendable { case nifti1, nifti2 }

    /// NIfTI-1 (348-byte header) or NIfTI-2 (540-byte header).
    public var format: Format = .nifti1
    /// True when the file was little-endian (files written by this module always are).
    public var littleEndian: Bool = true
    /// True for a .hdr/.img pair (magic "ni1"/"ni2"), false for a single file ("n+1"/"n+2").
    public var isPair: Bool = false
    /// dim[0] = number of dimensions (1...7), dim[1...dim[0]] = sizes; 8 entries.
    public var dim: [Int] = [3, 1, 1, 1, 1, 1, 1, 1]
    /// pixdim[0] = qfac, pixdim[1...] = voxel sizes / step; 8 entries.
    public var pixdim: [Double] = [1, 1, 1, 1, 1, 1, 1, 1]
    public var datatype: NIfTIDatatype = .float32
    /// Byte offset of the voxel data (in the .img file for a pair).
    public var voxOffset: Int = 0
    public var sclSlope: Double = 1
    public var sclInter: Double = 0
    public var qformCode: Int = 0
    public var sformCode: Int = 0
    public var quaternB: Double = 0
    public var quaternC: Double = 0
    public var quaternD: Double = 0
    public var qoffsetX: Double = 0
    public var qoffsetY: Double = 0
    public var qoffsetZ: Double = 0
    /// Rows of the sform (srow_x, srow_y, srow_z), 4 entries each.
    public var srowX: [Double] = [1, 0, 0, 0]
    public var srowY: [Double] = [0, 1, 0, 0]
    public var srowZ: [Double] = [0, 0, 1, 0]
    /// Space units in bits 0-2, time units in bits 3-5 (nifti1.h `XYZT_TO_SPACE/TIME`).
    public var xyztUnits: Int = 0
    public var intentCode: Int = 0
    public var descrip: String = ""
    /// Header extensions in file order (DICOM, AFNI, comments, ...), kept as stored and written
    /// back by `write` (see `NIfTIExtension`).
    public var extensions: [NIfTIExtension] = []

    public init() {}

    /// The image shape: dim[1...dim[0]].
    public var shape: [Int] { Array(dim[1...max(1, min(dim[0], 7))]) }

    /// Number of voxels (product of the shape). Valid for a header accepted by the reader.
    public var voxelCount: Int { shape.reduce(1, *) }

    /// The sform as a 4×4 matrix (rows), whatever its code.
    public var sform: [[Double]] { [srowX, srowY, srowZ, [0, 0, 0, 1]] }

    /// The qform as a 4×4 matrix (rows), whatever its code: see `NIfTIAffine.qform`.
    public var qform: [[Double]] { NIfTIAffine.qform(of: self) }

    /// The affine nibabel's `get_best_affine` returns: see `NIfTIAffine.best`.
    public var bestAffine: [[Double]] { NIfTIAffine.best(of: self) }

    /// Space unit name from xyzt_units (nifti1.h NIFTI_UNITS_*).
    public var spaceUnit: String {
        switch xyztUnits & 0x07 {
        case 1: return "m"
        case 2: return "mm"
        case 3: return "um"
        case 0: return "unknown"
        default: return "code \(xyztUnits & 0x07)"
        }
    }

    /// Time unit name from xyzt_units (nifti1.h NIFTI_UNITS_*).
    public var timeUnit: String {
        switch xyztUnits & 0x38 {
        case 0: return "unknown"
        case 8: return "s"
        case 16: return "ms"
        case 24: return "us"
        case 32: return "Hz"
        case 40: return "ppm"
        case 48: return "rad/s"
        default: return "code \(xyztUnits & 0x38)"
        }
    }

    /// (slope, intercept) to apply, or nil when stored values are used as they are:
    /// scaling applies when scl_slope is non-zero and finite (nibabel `get_slope_inter`) and
    /// is not the identity 1, 0 (nibabel `apply_read_scaling` skips it, which keeps −0.0).
    public var scaling: (slope: Double, inter: Double)? {
        guard sclSlope != 0, sclSlope.isFinite, !(sclSlope == 1 && sclInter == 0) else { return nil }
        return (sclSlope, sclInter)
    }
}
