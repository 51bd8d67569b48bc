/// NIfTI header extensions (nifti1.h §"extension"): after the header comes a 4-byte "extender"
/// whose first byte is non-zero when extensions follow; each extension is
/// `esize` (int32, including these 8 bytes) · `ecode` (int32) · `esize − 8` bytes of content.
/// In a single file they fill the space up to vox_offset; in a .hdr they run to the end of the
/// file. dro-seg does not interpret them (DICOM, AFNI, CIfTI, comments, ...): it reads them,
/// keeps them with the header and writes them back, so a processed image keeps what a scanner
/// or another tool stored there.
public struct NIfTIExtension: Equatable, Sendable {
    /// ecode (nifti1.h NIFTI_ECODE_*: 2 DICOM, 4 AFNI, 6 comment, 32 CIfTI, ...).
    public var code: Int
    /// The esize − 8 content bytes as stored, including any trailing zero padding.
    public var content: [UInt8]

    public init(code: Int, content: [UInt8]) {
        self.code = code
        self.content = content
    }

    /// Bytes this extension takes in a file written by dro-seg: 8 + content, rounded up to a
    /// multiple of 16 (nifti1.h requires esize to be one).
    public var sizeOnDisk: Int { (8 + content.count + 15) / 16 * 16 }

    /// Largest total of extension bytes read or written (256 MiB): DICOM and CIfTI extensions
    /// are kilobytes to megabytes; the cap keeps a corrupt esize from asking for an absurd
    /// allocation before the end of the file is noticed.
    public static let maxTotalBytes = 1 << 28

    /// Smallest space worth looking into: an extension is at least 16 bytes on disk. nibabel
    /// (`Nifti1Extensions.from_fileobj`) stops as soon as fewer bytes remain, and so do we.
    static let minimumSize = 16
}

extension NIfTIExtension {
    /// Reads the extender and the extensions that follow it from `source`, positioned right after
    /// the header. `available` is the number of bytes before vox_offset (single file), or nil
    /// for a .hdr whose extensions run to its end. Returns the extensions and how many bytes
    /// were consumed.
    static func read(from source: ByteSource, available: Int?, swap: Bool, path: String) throws -> ([NIfTIExtension], consumed: Int) {
        if let available, available < 4 { return ([], 0) }
        let extender = try source.readBytes(4)
        guard extender.count == 4, extender[0] != 0 else { return ([], extender.count) }
        var consumed = 4
        var found: [NIfTIExtension] = []
        while true {
            let remaining = available.map { $0 - consumed }
            if let remaining, remaining < minimumSize { break }
            let head = try source.readBytes(8)
            if head.isEmpty, remaining == nil { break }   // end of a .hdr: all extensions read
            let number = found.count + 1
            guard head.count == 8 else {
                throw NIfTIError(path: path, field: "extension \(number)", found: "\(head.count) bytes of esize/ecode",
                                 allowed: "8 bytes (the file ends inside the extension header)")
            }
            let fields = HeaderBytes(bytes: head, swap: swap)
            let esize = fields.int32(0), code = fields.int32(4)
            let limit = min(remaining ?? Int(Int32.max), maxTotalBytes - consumed)
            guard esize >= 8, esize <= limit else {
                throw NIfTIError(path: path, field: "extension \(number) esize", found: "\(esize)",
                                 allowed: available == nil ? "8...\(limit) bytes" : "8...\(limit) (the bytes left before vox_offset)")
            }
            let content = try source.readBytes(esize - 8)
            guard content.count == esize - 8 else {
                throw NIfTIError(path: path, field: "extension \(number)", found: "\(content.count) content bytes",
                                 allowed: "\(esize - 8) bytes (esize \(esize) − 8; the file ends inside the extension)")
            }
            found.append(NIfTIExtension(code: code, content: content))
            consumed += esize
        }
        return (found, consumed)
    }

    /// The bytes after the header in a file written by dro-seg: the extender (1 when there are
    /// extensions, else 0) and each extension, little-endian, padded to a multiple of 16.
    static func encode(_ extensions: [NIfTIExtension]) -> [UInt8] {
        var bytes: [UInt8] = [extensions.isEmpty ? 0 : 1, 0, 0, 0]
        for e in extensions {
            let size = e.sizeOnDisk
            withUnsafeBytes(of: Int32(truncatingIfNeeded: size).littleEndian) { bytes += $0 }
            withUnsafeBytes(of: Int32(truncatingIfNeeded: e.code).littleEndian) { bytes += $0 }
            bytes += e.content
            bytes += [UInt8](repeating: 0, count: size - 8 - e.content.count)
        }
        return bytes
    }
}
