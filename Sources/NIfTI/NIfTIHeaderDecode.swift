/// Decoding and validating header bytes. Every rejected field is reported with its name, the
/// value found and what is allowed.
extension NIfTIHeader {
    /// Largest voxel payload accepted (64 GiB): far above any MRI volume, low enough that a
    /// corrupt dim cannot ask for an absurd allocation.
    public static let maxDataBytes = 1 << 36

    /// The byte order and format announced by the first 4 bytes (sizeof_hdr), or nil.
    static func detect(sizeofHdr b: [UInt8]) -> (Format, littleEndian: Bool)? {
        let le = Int(b[0]) | Int(b[1]) << 8 | Int(b[2]) << 16 | Int(b[3]) << 24
        let be = Int(b[3]) | Int(b[2]) << 8 | Int(b[1]) << 16 | Int(b[0]) << 24
        switch (le, be) {
        case (NIfTI1Offset.headerSize, _): return (.nifti1, true)
        case (_, NIfTI1Offset.headerSize): return (.nifti1, false)
        case (NIfTI2Offset.headerSize, _): return (.nifti2, true)
        case (_, NIfTI2Offset.headerSize): return (.nifti2, false)
        default: return nil
        }
    }

    static func sizeofHdrError(_ b: [UInt8], path: String) -> NIfTIError {
        let le = Int32(bitPattern: UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24)
        return NIfTIError(path: path, field: "sizeof_hdr", found: "\(le) (little-endian) / \(le.byteSwapped) (big-endian)",
                          allowed: "348 (NIfTI-1) or 540 (NIfTI-2) in either byte order")
    }

    /// Decodes a complete header (348 or 540 bytes as announced by sizeof_hdr).
    static func decode(_ bytes: [UInt8], path: String) throws -> NIfTIHeader {
        guard bytes.count >= 4, let (format, little) = detect(sizeofHdr: bytes) else {
            throw bytes.count >= 4 ? sizeofHdrError(bytes, path: path)
                : NIfTIError(path: path, field: "header", found: "\(bytes.count) bytes", allowed: "at least 348 bytes")
        }
        let r = HeaderBytes(bytes: bytes, swap: !little)
        var h = NIfTIHeader()
        h.format = format
        h.littleEndian = little
        if format == .nifti1 {
            try h.decodeMagic(r.string(NIfTI1Offset.magic, length: 4), single: "n+1", pair: "ni1", path: path)
            h.dim = (0..<8).map { r.int16(NIfTI1Offset.dim + 2 * $0) }
            h.pixdim = (0..<8).map { r.float32(NIfTI1Offset.pixdim + 4 * $0) }
            try h.decodeDatatype(r.int16(NIfTI1Offset.datatype), path: path)
            let off = r.float32(NIfTI1Offset.voxOffset)
            guard off.isFinite, off >= 0, off == off.rounded(), off <= Double(Int32.max) else {
                throw NIfTIError(path: path, field: "vox_offset", found: "\(off)", allowed: "a non-negative whole number")
            }
            h.voxOffset = Int(off)
            h.sclSlope = r.float32(NIfTI1Offset.sclSlope)
            h.sclInter = r.float32(NIfTI1Offset.sclInter)
            h.qformCode = r.int16(NIfTI1Offset.qformCode)
            h.sformCode = r.int16(NIfTI1Offset.sformCode)
            let q = NIfTI1Offset.quatern, o = NIfTI1Offset.qoffset
            (h.quaternB, h.quaternC, h.quaternD) = (r.float32(q), r.float32(q + 4), r.float32(q + 8))
            (h.qoffsetX, h.qoffsetY, h.qoffsetZ) = (r.float32(o), r.float32(o + 4), r.float32(o + 8))
            let row = { (k: Int) in (0..<4).map { r.float32(NIfTI1Offset.srow + 16 * k + 4 * $0) } }
            (h.srowX, h.srowY, h.srowZ) = (row(0), row(1), row(2))
            h.xyztUnits = r.uint8(NIfTI1Offset.xyztUnits)
            h.intentCode = r.int16(NIfTI1Offset.intentCode)
            h.descrip = r.string(NIfTI1Offset.descrip, length: 80)
        } else {
            try h.decodeMagic(r.string(NIfTI2Offset.magic, length: 4), single: "n+2", pair: "ni2", path: path)
            h.dim = (0..<8).map { r.int64(NIfTI2Offset.dim + 8 * $0) }
            h.pixdim = (0..<8).map { r.float64(NIfTI2Offset.pixdim + 8 * $0) }
            try h.decodeDatatype(r.int16(NIfTI2Offset.datatype), path: path)
            h.voxOffset = r.int64(NIfTI2Offset.voxOffset)
            guard h.voxOffset >= 0 else {
                throw NIfTIError(path: path, field: "vox_offset", found: "\(h.voxOffset)", allowed: "a non-negative whole number")
            }
            h.sclSlope = r.float64(NIfTI2Offset.sclSlope)
            h.sclInter = r.float64(NIfTI2Offset.sclInter)
            h.qformCode = r.int32(NIfTI2Offset.qformCode)
            h.sformCode = r.int32(NIfTI2Offset.sformCode)
            let q = NIfTI2Offset.quatern, o = NIfTI2Offset.qoffset
            (h.quaternB, h.quaternC, h.quaternD) = (r.float64(q), r.float64(q + 8), r.float64(q + 16))
            (h.qoffsetX, h.qoffsetY, h.qoffsetZ) = (r.float64(o), r.float64(o + 8), r.float64(o + 16))
            let row = { (k: Int) in (0..<4).map { r.float64(NIfTI2Offset.srow + 32 * k + 8 * $0) } }
            (h.srowX, h.srowY, h.srowZ) = (row(0), row(1), row(2))
            h.xyztUnits = r.int32(NIfTI2Offset.xyztUnits)
            h.intentCode = r.int32(NIfTI2Offset.intentCode)
            h.descrip = r.string(NIfTI2Offset.descrip, length: 80)
        }
        try h.validate(path: path)
        return h
    }

    private mutating func decodeMagic(_ magic: String, single: String, pair: String, path: String) throws {
        switch magic {
        case single: isPair = false
        case pair: isPair = true
        default:
            throw NIfTIError(path: path, field: "magic", found: "\"\(magic.debugDescription.dropFirst().dropLast())\"",
                             allowed: "\"\(single)\" (single file) or \"\(pair)\" (.hdr/.img pair)")
        }
    }

    private mutating func decodeDatatype(_ code: Int, path: String) throws {
        guard let t = NIfTIDatatype(rawValue: code) else {
            let name = NIfTIDatatype.unsupportedNames[code].map { " (\($0), unsupported datatype)" } ?? " (unknown code)"
            throw NIfTIError(path: path, field: "datatype", found: "\(code)\(name)",
                             allowed: NIfTIDatatype.allowedDescription)
        }
        datatype = t
    }

    /// Checks dims, sizes, offsets and scaling; computes nothing that can overflow unchecked.
    func validate(path: String) throws {
        guard (1...7).contains(dim[0]) else {
            throw NIfTIError(path: path, field: "dim[0]", found: "\(dim[0])", allowed: "1...7 (number of dimensions)")
        }
        for i in 1...dim[0] where dim[i] <= 0 {
            throw NIfTIError(path: path, field: "dim[\(i)]", found: "\(dim[i])", allowed: "a size ≥ 1")
        }
        _ = try dataByteCount(path: path)
        let single = !isPair
        let headerSize = format == .nifti1 ? NIfTI1Offset.headerSize : NIfTI2Offset.headerSize
        if single, voxOffset < headerSize {
            throw NIfTIError(path: path, field: "vox_offset", found: "\(voxOffset)",
                             allowed: "≥ \(headerSize) in a single-file image (data follows the header)")
        }
        if scaling != nil, !sclInter.isFinite {
            throw NIfTIError(path: path, field: "scl_inter", found: "\(sclInter)", allowed: "a finite number when scl_slope is set")
        }
        if NIfTIAffine.isUsable(code: qformCode), !NIfTIAffine.isUsable(code: sformCode),
           NIfTIAffine.quaternionA(of: self) == nil {
            throw NIfTIError(path: path, field: "quatern_b/c/d", found: "(\(quaternB), \(quaternC), \(quaternD))",
                             allowed: "b² + c² + d² ≤ 1 (a unit quaternion)")
        }
    }

    /// Bytes of voxel data the header promises: product of dims × datatype size, checked for
    /// overflow and against `maxDataBytes`.
    func dataByteCount(path: String) throws -> Int {
        var total = datatype.byteSize
        for i in 1...max(1, min(dim[0], 7)) {
            let (p, overflow) = total.multipliedReportingOverflow(by: dim[i])
            guard !overflow, p <= NIfTIHeader.maxDataBytes else {
                throw NIfTIError(path: path, field: "dim", found: shape.map(String.init).joined(separator: "×"),
                                 allowed: "at most \(NIfTIHeader.maxDataBytes) bytes of voxel data")
            }
            total = p
        }
        return total
    }
}
