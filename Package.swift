// swift-tools-version:6.0
import PackageDescription

/// Every module is built with checks (bounds, overflow, preconditions) in release too: measured
/// per module in docs/performance.md ("Checked builds"), -Ounchecked gave no measurable gain for
/// NIfTI, Tensor or the U-Net step (their time is zlib, OpenBLAS and the C kernels), and a
/// corrupt input must end in an error or a trap, never in a silent out-of-bounds read.

let package = Package(
    name: "dro-seg",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "dro-train", targets: ["dro-train"]),
        .executable(name: "dro-infer", targets: ["dro-infer"]),
        .executable(name: "dro-eval", targets: ["dro-eval"]),
        .executable(name: "dro-inspect", targets: ["dro-inspect"]),
        .executable(name: "dro-bench", targets: ["dro-bench"]),
        .executable(name: "dro-plan", targets: ["dro-plan"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // System-library shims.
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]),
        // Hand-written C kernels (AVX2/AVX-512 per function, chosen at run time by CPU checks).
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O3"], .when(configuration: .release))]),

        // Libraries, lowest first. Lower modules never import higher ones.
        // Ranks of a data-parallel run (OpenMPI under mpirun/srun, a single process otherwise).
        .target(name: "Cluster", dependencies: ["CMPI"]),
        .target(name: "Common"),
        .target(name: "NIfTI", dependencies: ["CZlib"]),
        .target(name: "Tensor", dependencies: ["Common", "CBLAS", "CKernels"]),
        .target(name: "Sampling", dependencies: ["Common"]),
        .target(name: "Config", dependencies: ["Yams", "Sampling"]),
        .target(name: "Plotting", dependencies: ["CZlib"]),
        .target(name: "Evaluation", dependencies: ["NIfTI", "CZlib", "Plotting"]),

        // Pipeline stages, each importing only the ones before it.
        .target(name: "DataPipeline",
                dependencies: ["Common", "NIfTI", "Tensor", "Sampling", "Config"]),
        .target(name: "Model", dependencies: ["Common", "Tensor", "Config"]),
        .target(name: "Inference",
                dependencies: ["Common", "NIfTI", "Tensor", "Config", "DataPipeline", "Model"]),
        .target(name: "Training",
                dependencies: ["Common", "NIfTI", "Tensor", "Sampling", "Config", "Plotting", "Evaluation",
                               "DataPipeline", "Model", "Inference", "Cluster"]),
        .target(name: "Commands",
                dependencies: ["Common", "NIfTI", "Config", "Evaluation", "DataPipeline", "Model", "Inference", "Training",
                               "Cluster", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        // Dataset fingerprint and a network planned to fit a time budget on this machine.
        .target(name: "Planning",
                dependencies: ["Common", "NIfTI", "Tensor", "Sampling", "Config", "DataPipeline", "Model", "Training",
                               .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .target(name: "Benchmarks",
                dependencies: ["Common", "NIfTI", "Tensor", "Sampling", "Evaluation", "Config", "CZlib", "CBLAS",
                               "DataPipeline", "Model", "Inference", "Training", "Commands", "Cluster"]),

        // Thin executables: parse arguments, call one library function.
        .executableTarget(name: "dro-train", dependencies: ["Commands",
                          .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "dro-infer", dependencies: ["Commands", "Inference", "Model",
                          .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "dro-eval", dependencies: ["Commands",
                          .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "dro-inspect", dependencies: ["NIfTI", "Model",
                          .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "dro-plan", dependencies: ["Planning", "Tensor",
                          .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "dro-bench", dependencies: ["Benchmarks", "Cluster",
                          .product(name: "ArgumentParser", package: "swift-argument-parser")]),

        // One test target per module.
        .testTarget(name: "NIfTITests", dependencies: ["Common", "NIfTI", "TestSupport"]),
        .testTarget(name: "TensorTests", dependencies: ["Common", "Tensor"]),
        .testTarget(name: "SamplingTests", dependencies: ["Common", "Sampling"]),
        .testTarget(name: "ConfigTests", dependencies: ["Config", "Sampling", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "ClusterTests", dependencies: ["Cluster"]),
        .testTarget(name: "EvaluationTests", dependencies: ["Common", "Evaluation", "NIfTI", "Plotting"]),
        .target(name: "TestSupport", dependencies: ["Common", "Config", "Model"], path: "Tests/TestSupport"),
        .testTarget(name: "PlottingTests", dependencies: ["Plotting"]),
        .testTarget(name: "DataPipelineTests", dependencies: ["Common", "DataPipeline", "Training", "TestSupport"]),
        .testTarget(name: "ModelTests", dependencies: ["Common", "Model", "DataPipeline", "Training", "TestSupport"]),
        .testTarget(name: "InferenceTests", dependencies: ["Common", "Inference", "Training", "Commands", "TestSupport"]),
        .testTarget(name: "TrainingTests", dependencies: ["Common", "Config", "Sampling", "Training", "TestSupport"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "PlanningTests", dependencies: ["Common", "NIfTI", "Config", "Planning", "DataPipeline", "TestSupport"]),
        .testTarget(name: "CommandsTests", dependencies: ["Commands", "Evaluation", "NIfTI", "TestSupport",
                                                     .product(name: "ArgumentParser", package: "swift-argument-parser")]),
    ],
    swiftLanguageModes: [.v5]
)
