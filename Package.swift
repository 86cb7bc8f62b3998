// swift-tools-version: 6.2
import PackageDescription

let package = Package(
    name: "ingest-options",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ingest-options", targets: ["ingest-options"]),
        .executable(name: "feed-sim", targets: ["feed-sim"]),
        // For the separate benchmark package in Benchmarks/ (issue 8).
        .library(name: "OptionsFeed", targets: ["OptionsFeed"]),
        .library(name: "IngestPipeline", targets: ["IngestPipeline"]),
        .library(name: "IngestDatabase", targets: ["IngestDatabase"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/swift-websocket.git", from: "1.6.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        // Tests only: the child processes of IngestTestSupport.
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
    ],
    targets: [
        // libpq, found through pkg-config (Debian: libpq-dev).
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        // glibc's <malloc.h> (mallopt): the service fixes the allocator's mmap threshold (issue 8).
        .systemLibrary(name: "CMalloc"),

        // The feed's data: option symbols, the trade model and the wire decoder. Pure, no I/O.
        .target(name: "OptionsFeed"),

        // Buffering and flushing: the ring buffer and the flush policy state machine.
        .target(
            name: "IngestPipeline",
            dependencies: ["OptionsFeed", .product(name: "DequeModule", package: "swift-collections")]
        ),

        // The database side: libpq connection, COPY binary encoder, writers, migrations.
        .target(
            name: "IngestDatabase",
            dependencies: [
                "CLibPQ", "OptionsFeed",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),

        // The service: configuration, logging, feed client, and the services wired together.
        .target(
            name: "IngestService",
            dependencies: [
                "OptionsFeed", "IngestPipeline", "IngestDatabase", "CMalloc",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "WSClient", package: "swift-websocket"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),

        // The Polygon-compatible feed simulator used by demos, tests and benchmarks.
        .target(
            name: "FeedSimulator",
            dependencies: [
                "OptionsFeed",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        .executableTarget(
            name: "ingest-options",
            dependencies: [
                "IngestService", "IngestPipeline",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "feed-sim",
            dependencies: [
                "FeedSimulator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // Shared by the integration tests: a fresh database per test, child processes.
        .target(
            name: "IngestTestSupport",
            dependencies: [
                "IngestDatabase", .product(name: "Logging", package: "swift-log"),
                .product(name: "Subprocess", package: "swift-subprocess"),
            ],
            path: "Tests/IngestTestSupport"
        ),

        .testTarget(name: "OptionsFeedTests", dependencies: ["OptionsFeed"]),
        .testTarget(name: "IngestPipelineTests", dependencies: ["IngestPipeline"]),
        .testTarget(name: "IngestDatabaseTests", dependencies: ["IngestDatabase", "IngestTestSupport"]),
        .testTarget(
            name: "IngestServiceTests",
            dependencies: [
                "IngestService", "IngestPipeline", "OptionsFeed", "IngestTestSupport", "CMalloc", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]),
        .testTarget(name: "EndToEndTests", dependencies: ["IngestDatabase", "IngestPipeline", "IngestService", "OptionsFeed", "IngestTestSupport"]),
        .testTarget(name: "FeedSimulatorTests", dependencies: ["FeedSimulator", .product(name: "Logging", package: "swift-log")]),
    ],
    swiftLanguageModes: [.v6]
)
