/// A NIfTI volume: its header and its voxel bytes as stored (datatype of the header, native
/// byte order). Values are scaled only when asked for (`floatValues`, `doubleValues`).
/// Linear voxel index = x + nx·(y + ny·(z + nz·t)): x fastest, as in the file.
public struct NIfTIImage: Sendable {
    public var header: NIfTIHeader
    /// Stored voxel bytes, `header.datatype`, native byte order, count = voxels × byteSize.
    public internal(set) var data: [UInt8]

    /// Wraps a header and matching native-order bytes (count must equal voxels × byteSize).
    public init(header: NIfTIHeader, data: [UInt8]) {
        precondition(data.count == header.voxelCount * header.datatype.byteSize,
                     "NIfTIImage: \(data.count) bytes for shape \(header.shape) of \(header.datatype.name)")
        self.header = header
        self.data = data
    }

    /// [nx, ny, nz] or [nx, ny, nz, nc, ...]: dim[1...dim[0]].
    public var shape: [Int] { header.shape }
    public var datatype: NIfTIDatatype { header.datatype }
    /// 4×4 best affine (sform → qform → pixdim), rows; see `NIfTIAffine`.
    public var affine: [[Double]] { header.bestAffine }
    /// Column norms of the affine's 3×3: voxel spacing along x, y, z (mm when xyzt_units say so).
    public var spacing: [Double] { NIfTIAffine.spacing(of: affine) }
    public var voxelCount: Int { header.voxelCount }

    /// An image with a diagonal affine diag(spacing) at the origin, qform and sform codes 1
    /// (scanner), units mm, float32. For tests and phantoms.
    public init(shape: [Int], spacing: [Double], values: [Float]) {
        precondition((1...7).contains(shape.count) && shape.allSatisfy { $0 >= 1 },
                     "NIfTIImage: shape \(shape) needs 1...7 sizes ≥ 1")
        precondition(spacing.count >= min(shape.count, 3), "NIfTIImage: need one spacing per spatial axis")
        var h = NIfTIHeader()
        h.dim = [shape.count] + shape + Array(repeating: 1, count: 7 - shape.count)
        for i in 0..<min(spacing.count, 3) { h.pixdim[i + 1] = spacing[i] }
        let s = (0..<3).map { $0 < spacing.count ? spacing[$0] : 1.0 }
        h.srowX = [s[0], 0, 0, 0]
        h.srowY = [0, s[1], 0, 0]
        h.srowZ = [0, 0, s[2], 0]
        h.qformCode = NIfTIImage.scannerAnatCode
        h.sformCode = NIfTIImage.scannerAnatCode
        h.xyztUnits = NIfTIImage.unitsMillimetre
        self.init(header: NIfTIImage.freshHeader(from: h, shape: shape, datatype: .float32),
                  data: NIfTIImage.bytes(of: values))
    }

    /// NIFTI_XFORM_SCANNER_ANAT (nifti1.h).
    static let scannerAnatCode = 1
    /// NIFTI_UNITS_MM (nifti1.h).
    static let unitsMillimetre = 2

    /// New image written "like" the reference: same format (NIfTI-1 or NIfTI-2, so a NIfTI-2
    /// source keeps its float64 geometry exactly), geometry (qform/sform + codes, pixdim,
    /// xyzt_units) and extensions; float32 values, no scaling. `values.count` must equal the
    /// product of `shape`. See `NIfTIHeader.like` to check the output before computing it.
    public static func like(_ reference: NIfTIImage, shape: [Int], values: [Float]) -> NIfTIImage {
        like(reference.header, shape: shape, values: values)
    }

    /// The same, from the reference's header alone (the voxels may be long gone).
    public static func like(_ reference: NIfTIHeader, shape: [Int], values: [Float]) -> NIfTIImage {
        NIfTIImage(header: freshHeader(from: reference, shape: shape, datatype: .float32), data: bytes(of: values))
    }

    /// New label image written "like" the reference (format, geometry, extensions as above):
    /// uint8 when labels are in 0...255, uint16 in 0...65535, else int16 or int32 (whichever
    /// holds them). No scaling.
    public static func like(_ reference: NIfTIImage, shape: [Int], labels: [Int32]) -> NIfTIImage {
        like(reference.header, shape: shape, labels: labels)
    }

    /// The same, from the reference's header alone.
    public static func like(_ reference: NIfTIHeader, shape: [Int], labels: [Int32]) -> NIfTIImage {
        let lo = labels.min() ?? 0, hi = labels.max() ?? 0
        let h: NIfTIHeader
        let d: [UInt8]
        if lo >= 0 && hi <= Int32(UInt8.max) {
            h = freshHeader(from: reference, shape: shape, datatype: .uint8)
            d = labels.map { UInt8(truncatingIfNeeded: $0) }
        } else if lo >= 0 && hi <= Int32(UInt16.max) {
            h = freshHeader(from: reference, shape: shape, datatype: .uint16)
            d = bytes(of: labels.map { UInt16(truncatingIfNeeded: $0) })
        } else if lo >= Int32(Int16.min) && hi <= Int32(Int16.max) {
            h = freshHeader(from: reference, shape: shape, datatype: .int16)
            d = bytes(of: labels.map { Int16(truncatingIfNeeded: $0) })
        } else {
            h = freshHeader(from: reference, shape: shape, datatype: .int32)
            d = bytes(of: labels)
        }
        return NIfTIImage(header: h, data: d)
    }

    static func freshHeader(from reference: NIfTIHeader, shape: [Int], datatype: NIfTIDatatype) -> NIfTIHeader {
        precondition((1...7).contains(shape.count) && shape.allSatisfy { $0 >= 1 },
                     "NIfTIImage: shape \(shape) needs 1...7 sizes ≥ 1")
        return NIfTIHeader.like(reference, shape: shape, datatype: datatype)
    }

    /// The native-order bytes of an array of fixed-width values.
    static func bytes<T>(of values: [T]) -> [UInt8] {
        values.withUnsafeBytes { Array($0) }
    }
}
