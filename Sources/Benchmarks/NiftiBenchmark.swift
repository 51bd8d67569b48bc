import CZlib
import Foundation
import NIfTI

/// `dro-bench nifti`: how close NIfTIImage.read comes to the physical limits on the same bytes,
/// measured in one process, back to back:
/// - `.nii.gz`: one in-memory zlib inflate of the whole compressed file into a fresh buffer
///   (no file I/O, no header parsing) — the fastest any gzip reader can be with zlib;
/// - `.nii`: one fread of the whole file into a fresh buffer.
/// Ratios are reference time / read time (1.0 = as fast as the limit). Medians of repetitions.
/// Each step is timed twice: wall clock, and the thread's CPU time (user + system,
/// CLOCK_THREAD_CPUTIME_ID) — every step is single-threaded, so on a shared, loaded machine the
/// CPU-time ratio is the one that measures the code rather than the scheduler.
public enum NiftiBenchmark {
    public struct Options: Sendable {
        /// Edge of the cubic float32 test volume (256³ = 64 MiB).
        public var size = 256
        public var repetitions = 5
        public var gzipLevel = NIfTIImage.defaultGzipLevel
        public init() {}
    }

    public struct Result: Sendable {
        public var size: Int
        public var repetitions: Int
        public var rawBytes: Int
        public var gzipBytes: Int
        /// Wall-clock medians.
        public var readGzipSeconds: Double
        public var inflateSeconds: Double
        public var readPlainSeconds: Double
        public var freadSeconds: Double
        /// Thread CPU-time medians.
        public var readGzipCPU: Double
        public var inflateCPU: Double
        public var readPlainCPU: Double
        public var freadCPU: Double
        public var writeGzipSeconds: Double
        public var writePlainSeconds: Double

        /// Throughput of NIfTIImage.read(.nii.gz) relative to raw in-memory inflate.
        public var gzipRatio: Double { inflateSeconds / readGzipSeconds }
        /// Throughput of NIfTIImage.read(.nii) relative to a plain fread of the file.
        public var plainRatio: Double { freadSeconds / readPlainSeconds }
        public var gzipCPURatio: Double { inflateCPU / readGzipCPU }
        public var plainCPURatio: Double { freadCPU / readPlainCPU }
    }

    /// A deterministic, MRI-like volume: a smooth blob with seeded noise, quantised to 1/8 so
    /// that it compresses (like real scans) without being trivially compressible.
    public static func volume(size n: Int, seed: UInt64 = 42) -> [Float] {
        var state = seed
        var out = [Float](repeating: 0, count: n * n * n)
        let c = Double(n - 1) / 2
        for z in 0..<n { for y in 0..<n { for x in 0..<n {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407   // Knuth MMIX LCG
            let noise = Double(state >> 40) / Double(1 << 24) - 0.5
            let r2 = ((Double(x) - c) * (Double(x) - c) + (Double(y) - c) * (Double(y) - c) + (Double(z) - c) * (Double(z) - c)) / (c * c)
            let v = 400 * Foundation.exp(-2 * r2) + 20 * noise
            out[x + n * (y + n * z)] = Float((v * 8).rounded() / 8)
        } } }
        return out
    }

    static func seconds(_ body: () throws -> Void) rethrows -> Double {
        try timed(body).wall
    }

    static func threadCPUSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// (wall, thread CPU) seconds of `body`.
    static func timed(_ body: () throws -> Void) rethrows -> (wall: Double, cpu: Double) {
        let t0 = DispatchTime.now().uptimeNanoseconds
        let c0 = threadCPUSeconds()
        try body()
        let cpu = threadCPUSeconds() - c0
        return (Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9, cpu)
    }


    /// windowBits 15 + 16: 32 KiB window, gzip wrapper only (zlib manual, inflateInit2).
    static let gzipWindowBits: Int32 = 15 + 16

    /// Inflates a whole gzip file held in memory into a fresh buffer of `outputSize` bytes.
    static func rawInflate(_ compressed: [UInt8], outputSize: Int) throws -> [UInt8] {
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer { inflateEnd(stream); stream.deallocate() }
        guard inflateInit2_(stream, gzipWindowBits, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw NIfTIError(path: "(memory)", field: "gzip stream", found: "zlib init failure", allowed: "zlib")
        }
        var rc: Int32 = Z_OK
        let out = try [UInt8](unsafeUninitializedCapacity: outputSize) { buf, initialized in
            try compressed.withUnsafeBytes { src in
                stream.pointee.next_in = UnsafeMutablePointer(mutating: src.bindMemory(to: UInt8.self).baseAddress)
                stream.pointee.avail_in = uInt(src.count)
                stream.pointee.next_out = buf.baseAddress
                stream.pointee.avail_out = uInt(outputSize)
                rc = inflate(stream, Z_FINISH)
                guard rc == Z_STREAM_END else {
                    throw NIfTIError(path: "(memory)", field: "gzip stream", found: "inflate \(rc)", allowed: "Z_STREAM_END")
                }
            }
            initialized = outputSize
        }
        return out
    }

    /// fread of a whole file into a fresh buffer.
    static func plainRead(_ path: String, size: Int) throws -> [UInt8] {
        guard let f = fopen(path, "rb") else {
            throw NIfTIError(path: path, field: "file", found: "not openable", allowed: "a readable file")
        }
        defer { fclose(f) }
        return [UInt8](unsafeUninitializedCapacity: size) { buf, initialized in
            initialized = fread(buf.baseAddress, 1, size, f)
        }
    }

    public static func run(_ options: Options) throws -> Result {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dro-bench-nifti-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let n = options.size
        let image = NIfTIImage(shape: [n, n, n], spacing: [0.8, 0.8, 0.8], values: volume(size: n))
        let gz = dir + "/volume.nii.gz", plain = dir + "/volume.nii"
        let writeGzip = try seconds { try image.write(to: gz, gzipLevel: options.gzipLevel) }
        let writePlain = try seconds { try image.write(to: plain) }
        let compressed = Array(try Data(contentsOf: URL(fileURLWithPath: gz)))
        let plainSize = (try FileManager.default.attributesOfItem(atPath: plain)[.size] as? Int) ?? 0
        let expected = image.floatValues()

        var t = (readGz: [(wall: Double, cpu: Double)](), inflate: [(wall: Double, cpu: Double)](),
                 readPlain: [(wall: Double, cpu: Double)](), fread: [(wall: Double, cpu: Double)]())
        for _ in 0..<max(1, options.repetitions) {
            var check = 0
            t.inflate.append(try timed { check += try rawInflate(compressed, outputSize: plainSize).count })
            t.readGz.append(try timed { check += try NIfTIImage.read(path: gz).voxelCount })
            t.fread.append(try timed { check += try plainRead(plain, size: plainSize).count })
            t.readPlain.append(try timed { check += try NIfTIImage.read(path: plain).voxelCount })
            guard check == 2 * plainSize + 2 * n * n * n else {
                throw NIfTIError(path: dir, field: "benchmark", found: "short read", allowed: "full volumes")
            }
        }
        // The timed reads must return the volume that was written.
        guard try NIfTIImage.read(path: gz).floatValues() == expected else {
            throw NIfTIError(path: gz, field: "voxel data", found: "different values", allowed: "the written volume")
        }
        return Result(size: n, repetitions: max(1, options.repetitions), rawBytes: plainSize, gzipBytes: compressed.count,
                      readGzipSeconds: median(t.readGz.map(\.wall)), inflateSeconds: median(t.inflate.map(\.wall)),
                      readPlainSeconds: median(t.readPlain.map(\.wall)), freadSeconds: median(t.fread.map(\.wall)),
                      readGzipCPU: median(t.readGz.map(\.cpu)), inflateCPU: median(t.inflate.map(\.cpu)),
                      readPlainCPU: median(t.readPlain.map(\.cpu)), freadCPU: median(t.fread.map(\.cpu)),
                      writeGzipSeconds: writeGzip, writePlainSeconds: writePlain)
    }

    public static func report(_ r: Result, json: Bool) -> String {
        let mib = { (b: Int, s: Double) in Double(b) / s / Double(1 << 20) }
        if json {
            return "{\"benchmark\":\"nifti\",\"size\":\(r.size),\"repetitions\":\(r.repetitions),"
                + "\"raw_bytes\":\(r.rawBytes),\"gzip_bytes\":\(r.gzipBytes),"
                + "\"read_gz_s\":\(r.readGzipSeconds),\"inflate_s\":\(r.inflateSeconds),\"gz_ratio\":\(r.gzipRatio),"
                + "\"read_nii_s\":\(r.readPlainSeconds),\"fread_s\":\(r.freadSeconds),\"nii_ratio\":\(r.plainRatio),"
                + "\"read_gz_cpu_s\":\(r.readGzipCPU),\"inflate_cpu_s\":\(r.inflateCPU),\"gz_cpu_ratio\":\(r.gzipCPURatio),"
                + "\"read_nii_cpu_s\":\(r.readPlainCPU),\"fread_cpu_s\":\(r.freadCPU),\"nii_cpu_ratio\":\(r.plainCPURatio),"
                + "\"write_gz_s\":\(r.writeGzipSeconds),\"write_nii_s\":\(r.writePlainSeconds)}"
        }
        let f = { (x: Double) in String(format: "%.3f", x) }
        return """
        NIfTI read, \(r.size)³ float32 (\(r.rawBytes >> 20) MiB; .nii.gz \(r.gzipBytes >> 20) MiB), median of \(r.repetitions)
          .nii.gz  NIfTIImage.read \(f(r.readGzipSeconds)) s (\(Int(mib(r.rawBytes, r.readGzipSeconds))) MiB/s)   raw inflate \(f(r.inflateSeconds)) s   ratio \(f(r.gzipRatio))
          .nii     NIfTIImage.read \(f(r.readPlainSeconds)) s (\(Int(mib(r.rawBytes, r.readPlainSeconds))) MiB/s)   fread \(f(r.freadSeconds)) s   ratio \(f(r.plainRatio))
          thread CPU time: .nii.gz read \(f(r.readGzipCPU)) s vs inflate \(f(r.inflateCPU)) s, ratio \(f(r.gzipCPURatio)); .nii read \(f(r.readPlainCPU)) s vs fread \(f(r.freadCPU)) s, ratio \(f(r.plainCPURatio))
          write (once): .nii.gz \(f(r.writeGzipSeconds)) s, .nii \(f(r.writePlainSeconds)) s
        """
    }
}
