#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Largest deflate expansion ratio (zlib technical details: 1032:1), used to reject a gzip
/// file that cannot possibly hold the bytes its header promises before allocating them.
let maxDeflateRatio = 1032
/// Slack added to that bound for headers and small files (bytes).
let deflateBoundSlack = 1 << 16

/// Where a NIfTI image's header and voxel bytes are: one file (.nii, .nii.gz) or a
/// .hdr/.img pair (either may be gzipped).
struct NIfTIFiles {
    var header: String
    var data: String?   // nil: same file as the header

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    static func resolve(_ path: String) throws -> NIfTIFiles {
        let lower = path.lowercased()
        func stem(_ suffix: String) -> String { String(path.dropLast(suffix.count)) }
        for suffix in [".hdr.gz", ".hdr", ".img.gz", ".img"] where lower.hasSuffix(suffix) {
            let base = stem(suffix)
            let headers = [base + ".hdr", base + ".hdr.gz"]
            let images = [base + ".img", base + ".img.gz"]
            let header = suffix.hasPrefix(".hdr") ? path : headers.first(where: exists)
            let image = suffix.hasPrefix(".img") ? path : images.first(where: exists)
            guard let h = header else {
                throw NIfTIError(path: path, field: "header file", found: "missing",
                                 allowed: "\(headers.joined(separator: " or ")) next to the .img")
            }
            guard let i = image else {
                throw NIfTIError(path: path, field: "image file", found: "missing",
                                 allowed: "\(images.joined(separator: " or ")) next to the .hdr")
            }
            return NIfTIFiles(header: h, data: i)
        }
        return NIfTIFiles(header: path, data: nil)
    }
}

extension NIfTIImage {
    /// Reads a .nii, .nii.gz, .hdr/.img (.img.gz) image, NIfTI-1 or NIfTI-2, either byte order.
    /// Throws `NIfTIError` naming the file and field for anything malformed.
    public static func read(path: String) throws -> NIfTIImage {
        let files = try NIfTIFiles.resolve(path)
        let source = try openSource(path: files.header)
        let sizeBytes = try source.readBytes(4)
        guard sizeBytes.count == 4 else {
            throw NIfTIError(path: files.header, field: "header", found: "\(sizeBytes.count) bytes", allowed: "at least 348 bytes")
        }
        guard let (format, _) = NIfTIHeader.detect(sizeofHdr: sizeBytes) else {
            throw NIfTIHeader.sizeofHdrError(sizeBytes, path: files.header)
        }
        let headerSize = format == .nifti1 ? NIfTI1Offset.headerSize : NIfTI2Offset.headerSize
        let rest = try source.readBytes(headerSize - 4)
        guard rest.count == headerSize - 4 else {
            throw NIfTIError(path: files.header, field: "header", found: "\(4 + rest.count) bytes",
                             allowed: "\(headerSize) bytes (sizeof_hdr)")
        }
        var header = try NIfTIHeader.decode(sizeBytes + rest, path: files.header)
        let isPairFile = files.data != nil
        if header.isPair != isPairFile {
            throw NIfTIError(path: files.header, field: "magic", found: header.isPair ? "a .hdr/.img pair magic" : "a single-file magic",
                             allowed: isPairFile ? "\"ni1\"/\"ni2\" in a .hdr" : "\"n+1\"/\"n+2\" in a .nii")
        }
        let dataPath = files.data ?? files.header
        let dataSource = try files.data.map(openSource) ?? source
        var alreadyRead = files.data == nil ? headerSize : 0
        let byteCount = try header.dataByteCount(path: files.header)
        try checkFits(dataSource, path: dataPath, offset: header.voxOffset, byteCount: byteCount)
        // Extensions: up to vox_offset in a single file, to the end of a .hdr.
        let (extensions, consumed) = try NIfTIExtension.read(
            from: source, available: files.data == nil ? header.voxOffset - headerSize : nil,
            swap: !header.littleEndian, path: files.header)
        header.extensions = extensions
        if files.data == nil { alreadyRead += consumed }

        let gap = header.voxOffset - alreadyRead
        guard try dataSource.skip(gap) == gap else {
            throw NIfTIError(path: dataPath, field: "vox_offset", found: "\(header.voxOffset)", allowed: "an offset inside the file")
        }
        var data = try [UInt8](unsafeUninitializedCapacity: byteCount) { buf, initialized in
            let got = byteCount == 0 ? 0 : try dataSource.read(into: buf.baseAddress!, count: byteCount)
            guard got == byteCount else {
                throw shortData(path: dataPath, header: header, found: got, needed: byteCount)
            }
            initialized = got
        }
        try dataSource.finish()
        if header.littleEndian != hostIsLittleEndian { swapBytes(&data, width: header.datatype.byteSize) }
        return NIfTIImage(header: header, data: data)
    }

    static let hostIsLittleEndian = UInt16(1).littleEndian == 1

    static func shortData(path: String, header: NIfTIHeader, found: Int, needed: Int) -> NIfTIError {
        NIfTIError(path: path, field: "voxel data", found: "\(found) bytes after vox_offset \(header.voxOffset)",
                   allowed: "\(needed) bytes (dim \(header.shape.map(String.init).joined(separator: "×")) × \(header.datatype.byteSize) bytes of \(header.datatype.name))")
    }

    /// Rejects, before allocating, data that cannot be in the file: past the end of a plain
    /// file, or more than deflate can expand a gzip file to.
    static func checkFits(_ source: ByteSource, path: String, offset: Int, byteCount: Int) throws {
        if source is GzipSource {
            let (bound, overflow) = source.fileSize.multipliedReportingOverflow(by: maxDeflateRatio)
            if !overflow, offset > bound - byteCount + deflateBoundSlack {
                throw NIfTIError(path: path, field: "voxel data", found: "a \(source.fileSize)-byte gzip file",
                                 allowed: "at least ≈\((offset + byteCount) / maxDeflateRatio) compressed bytes for \(byteCount) bytes at vox_offset \(offset)")
            }
            return
        }
        guard offset <= source.fileSize else {
            throw NIfTIError(path: path, field: "vox_offset", found: "\(offset)", allowed: "≤ file size \(source.fileSize)")
        }
        if source.fileSize - offset < byteCount {
            throw NIfTIError(path: path, field: "voxel data", found: "\(source.fileSize - offset) bytes after vox_offset \(offset)",
                             allowed: "\(byteCount) bytes (dim × datatype size)")
        }
    }

    /// Reverses the bytes of every `width`-byte element in place.
    static func swapBytes(_ data: inout [UInt8], width: Int) {
        guard width > 1 else { return }
        data.withUnsafeMutableBufferPointer { b in
            var i = 0
            while i + width <= b.count {
                var lo = i, hi = i + width - 1
                while lo < hi { b.swapAt(lo, hi); lo += 1; hi -= 1 }
                i += width
            }
        }
    }
}
