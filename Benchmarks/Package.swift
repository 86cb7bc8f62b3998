// swift-tools-version: 6.2
// The hot path's micro-benchmarks (docs/performance.md), kept out of the main package so
// that CI's build and tests never compile ordo-one/benchmark. Run from here:
//   swift package --disable-sandbox benchmark
// (release build; `scripts/bench-micro` runs it from the repository root).
import PackageDescription

let package = Package(
    name: "ingest-options-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        // Named: a path package is otherwise known by its directory name (main, ci, …).
        .package(name: "ingest-options", path: ".."),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "IngestBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "OptionsFeed", package: "ingest-options"),
                .product(name: "IngestPipeline", package: "ingest-options"),
                .product(name: "IngestDatabase", package: "ingest-options"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/IngestBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
