/// Encoding a header for writing, in the header's own format: NIfTI-1 (348 bytes, int16 dims,
/// float32 geometry) or NIfTI-2 (540 bytes, int64 dims, float64 geometry), then the extender
/// and the extensions, little-endian. Keeping the source's format is what keeps a NIfTI-2
/// image's float64 affine exact on the way through dro-seg.
extension NIfTIHeader {
    /// The header of a new image written "like" `source`: the source's format (NIfTI-1 or
    /// NIfTI-2: a NIfTI-2 source keeps its float64 geometry exactly), geometry (qform/sform and
    /// their codes, pixdim, xyzt_units), descrip and extensions, with the given shape and
    /// datatype; single file, little-endian, scl_slope 1, scl_inter 0, intent_code 0. Never
    /// traps: an impossible shape (none, more than 7 axes, a size < 1) is reported by
    /// `checkWritable`, which callers run on this header before computing the voxels.
    public static func like(_ source: NIfTIHeader, shape: [Int], datatype: NIfTIDatatype) -> NIfTIHeader {
        var h = source
        h.littleEndian = true
        h.isPair = false
        let sizes = Array(shape.prefix(7))
        h.dim = [shape.count] + sizes + Array(repeating: 1, count: 7 - sizes.count)
        h.datatype = datatype
        h.voxOffset = h.writtenVoxOffset
        h.sclSlope = 1
        h.sclInter = 0
        h.intentCode = 0
        return h
    }

    /// Throws the NIfTIError a write of this header to `path` would throw, without writing:
    /// callers check their outputs before the hours of work that produce the voxels (e.g. a
    /// 40000-voxel axis cannot be stored in a NIfTI-1 file: its dims are int16).
    public func checkWritable(to path: String) throws {
        let lower = path.lowercased()
        guard lower.hasSuffix(".nii") || lower.hasSuffix(".nii.gz") else {
            throw NIfTIError(path: path, field: "file name", found: "\"\(path)\"", allowed: "a name ending in .nii or .nii.gz")
        }
        guard (1...7).contains(dim[0]) else {
            throw NIfTIError(path: path, field: "dim[0]", found: "\(dim[0])", allowed: "1...7 (number of dimensions)")
        }
        for i in 1...dim[0] where dim[i] < 1 {
            throw NIfTIError(path: path, field: "dim[\(i)]", found: "\(dim[i])", allowed: "a size ≥ 1")
        }
        _ = try dataByteCount(path: path)
        let extensionBytes = extensions.reduce(0) { $0 + $1.sizeOnDisk }
        guard extensionBytes <= NIfTIExtension.maxTotalBytes else {
            throw NIfTIError(path: path, field: "extensions", found: "\(extensionBytes) bytes",
                             allowed: "at most \(NIfTIExtension.maxTotalBytes) bytes")
        }
        guard format == .nifti1 else {
            for (name, code) in [("qform_code", qformCode), ("sform_code", sformCode), ("intent_code", intentCode),
                                 ("xyzt_units", xyztUnits)] + extensions.enumerated().map({ ("extension \($0.offset + 1) ecode", $0.element.code) })
            where Int32(exactly: code) == nil {
                throw NIfTIError(path: path, field: name, found: "\(code)", allowed: "an int32 value in a NIfTI-2 file")
            }
            return
        }
        for i in 1...dim[0] where dim[i] > Int(Int16.max) {
            throw NIfTIError(path: path, field: "dim[\(i)]", found: "\(dim[i])",
                             allowed: "≤ 32767 in a NIfTI-1 file (int16 dims; a NIfTI-2 source is written as NIfTI-2)")
        }
        for (name, code) in [("qform_code", qformCode), ("sform_code", sformCode), ("intent_code", intentCode)]
        where Int16(exactly: code) == nil {
            throw NIfTIError(path: path, field: name, found: "\(code)", allowed: "an int16 code in a NIfTI-1 file")
        }
        guard UInt8(exactly: xyztUnits) != nil else {
            throw NIfTIError(path: path, field: "xyzt_units", found: "\(xyztUnits)", allowed: "0...255 in a NIfTI-1 file")
        }
        for (k, e) in extensions.enumerated() where Int32(exactly: e.code) == nil {
            throw NIfTIError(path: path, field: "extension \(k + 1) ecode", found: "\(e.code)", allowed: "an int32 code")
        }
        guard Double(Float(writtenVoxOffset)) == Double(writtenVoxOffset) else {   // a float32 field in NIfTI-1
            throw NIfTIError(path: path, field: "vox_offset", found: "\(writtenVoxOffset) (header + extensions)",
                             allowed: "a value float32 holds exactly (fewer extension bytes, or a NIfTI-2 file)")
        }
    }

    /// vox_offset of a single file written by dro-seg: header, extender, extensions.
    var writtenVoxOffset: Int {
        (format == .nifti1 ? NIfTI1Offset.headerSize : NIfTI2Offset.headerSize) + 4
            + extensions.reduce(0) { $0 + $1.sizeOnDisk }
    }

    /// Every byte before the voxel data of a single file (call `checkWritable` first).
    func encodedForWriting() -> [UInt8] {
        (format == .nifti1 ? encodedNIfTI1() : encodedNIfTI2()) + NIfTIExtension.encode(extensions)
    }

    private func encodedNIfTI1() -> [UInt8] {
        typealias O = NIfTI1Offset
        var w = HeaderWriter(size: O.headerSize)
        w.int32(O.headerSize, at: O.sizeofHdr)
        for i in 0..<8 {
            w.int16(dim[i], at: O.dim + 2 * i)
            w.float32(pixdim[i], at: O.pixdim + 4 * i)
        }
        w.int16(intentCode, at: O.intentCode)
        w.int16(datatype.rawValue, at: O.datatype)
        w.int16(datatype.byteSize * 8, at: O.bitpix)
        // Exact: checkWritable rejects an offset float32 cannot hold.
        w.float32(Double(writtenVoxOffset), at: O.voxOffset)
        w.float32(sclSlope, at: O.sclSlope)
        w.float32(sclInter, at: O.sclInter)
        w.bytes[O.xyztUnits] = UInt8(truncatingIfNeeded: xyztUnits)
        w.string(descrip, at: O.descrip, length: 80)
        w.int16(qformCode, at: O.qformCode)
        w.int16(sformCode, at: O.sformCode)
        for (k, v) in [quaternB, quaternC, quaternD].enumerated() { w.float32(v, at: O.quatern + 4 * k) }
        for (k, v) in [qoffsetX, qoffsetY, qoffsetZ].enumerated() { w.float32(v, at: O.qoffset + 4 * k) }
        for (r, row) in [srowX, srowY, srowZ].enumerated() {
            for k in 0..<4 { w.float32(row[k], at: O.srow + 16 * r + 4 * k) }
        }
        w.string("n+1", at: O.magic, length: 4)
        return w.bytes
    }

    private func encodedNIfTI2() -> [UInt8] {
        typealias O = NIfTI2Offset
        var w = HeaderWriter(size: O.headerSize)
        w.int32(O.headerSize, at: O.sizeofHdr)
        // "n+2\0" then \r\n\032\n, which catches files mangled by text-mode transfers (nifti2.h).
        for (k, b) in [0x6E, 0x2B, 0x32, 0x00, 0x0D, 0x0A, 0x1A, 0x0A].enumerated() { w.bytes[O.magic + k] = UInt8(b) }
        w.int16(datatype.rawValue, at: O.datatype)
        w.int16(datatype.byteSize * 8, at: O.bitpix)
        for i in 0..<8 {
            w.int64(dim[i], at: O.dim + 8 * i)
            w.float64(pixdim[i], at: O.pixdim + 8 * i)
        }
        w.int64(writtenVoxOffset, at: O.voxOffset)
        w.float64(sclSlope, at: O.sclSlope)
        w.float64(sclInter, at: O.sclInter)
        w.string(descrip, at: O.descrip, length: 80)
        w.int32(qformCode, at: O.qformCode)
        w.int32(sformCode, at: O.sformCode)
        for (k, v) in [quaternB, quaternC, quaternD].enumerated() { w.float64(v, at: O.quatern + 8 * k) }
        for (k, v) in [qoffsetX, qoffsetY, qoffsetZ].enumerated() { w.float64(v, at: O.qoffset + 8 * k) }
        for (r, row) in [srowX, srowY, srowZ].enumerated() {
            for k in 0..<4 { w.float64(row[k], at: O.srow + 32 * r + 8 * k) }
        }
        w.int32(xyztUnits, at: O.xyztUnits)
        w.int32(intentCode, at: O.intentCode)
        return w.bytes
    }
}
