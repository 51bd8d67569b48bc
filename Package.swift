// swift-tools-version:6.0
import PackageDescription

/// -Ounchecked (no bounds, overflow or precondition checks) in release. Measured per module in
/// docs/performance.md ("Checked builds"): no measurable gain for NIfTI, Tensor or the U-Net
/// step (their time is zlib, OpenBLAS and the C kernels), so those modules and everything that
/// reads outside input are built with checks: a corrupt file ends in an error or a trap, never
/// in a silent out-of-bounds read. Still applied only where its target line names it.
let fast: [SwiftSetting] = [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]

let package = Package(
    name: "dro-seg",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "dro-train", targets: ["dro-train"]),
        .executable(name: "dro-infer", targets: ["dro-infer"]),
        .executable(name: "dro-eval", targets: ["dro-eval"]),
        .executable(name: "dro-inspect", targets: ["dro-inspect"]),
        .executable(name: "dro-bench", targets: ["dro-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // System-library shims.
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // Hand-written C kernels (AVX2/AVX-512 per function, chosen at run time by CPU checks).
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O3"], .when(configuration: .release))]),

        // Libraries, lowest first. Lower modules never import higher ones.
        .target(name: "NIfTI", dependencies: ["CZlib"]),
        .target(name: "Tensor", dependencies: ["CBLAS", "CKernels"]),
        .target(name: "Sampling"),
        .target(name: "Config", dependencies: ["Yams"]),
        .target(name: "Evaluation", dependencies: ["NIfTI", "CZlib"]),
        .target(name: "Segmentation",
                dependencies: ["NIfTI", "Tensor", "Sampling", "Config", "Evaluation"],
                swiftSettings: fast),
        .target(name: "Benchmarks",
                dependencies: ["NIfTI", "Tensor", "Sampling", "Evaluation", "Segmentation", "Config", "CZlib", "CBLAS"]),

        // Thin executables: parse arguments, call one library function.
        .executableTarget(name: "dro-train", dependencies: ["Segmentation", "Config",
                          .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "dro-infer", dependencies: ["Segmentation", "Config",
                          .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "dro-eval", dependencies: ["Evaluation",
                          .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "dro-inspect", dependencies: ["NIfTI",
                          .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "dro-bench", dependencies: ["Benchmarks",
                          .product(name: "ArgumentParser", package: "swift-argument-parser")]),

        // One test target per module.
        .testTarget(name: "NIfTITests", dependencies: ["NIfTI"]),
        .testTarget(name: "TensorTests", dependencies: ["Tensor"]),
        .testTarget(name: "SamplingTests", dependencies: ["Sampling"]),
        .testTarget(name: "ConfigTests", dependencies: ["Config"]),
        .testTarget(name: "EvaluationTests", dependencies: ["Evaluation", "NIfTI"]),
        .testTarget(name: "SegmentationTests", dependencies: ["Segmentation", "Config", "NIfTI", "Tensor", "Sampling"]),
    ],
    swiftLanguageModes: [.v5]
)
