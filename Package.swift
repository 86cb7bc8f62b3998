// swift-tools-version: 6.2
import PackageDescription

let package = Package(
    name: "ingest-options",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ingest-options", targets: ["ingest-options"]),
        .executable(name: "feed-sim", targets: ["feed-sim"]),
        // For the separate benchmark package in Benchmarks/.
        .library(name: "OptionsFeed", targets: ["OptionsFeed"]),
        .library(name: "IngestPipeline", targets: ["IngestPipeline"]),
        .library(name: "IngestDatabase", targets: ["IngestDatabase"]),
        .library(name: "IngestSpool", targets: ["IngestSpool"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // TLS for a wss:// feed (the feed client is this project's own, on NIO: docs/design.md §7).
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        // Without its default traits (FullFoundation, ConfigurationSupport): the service links
        // FoundationEssentials only, not Foundation and ICU, ~9 MB of RSS (docs/design.md §1.4).
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        // The REST API client of the gap backfill (TLS, timeouts, connection reuse).
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        // Tests only: the child processes of IngestTestSupport.
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
    ],
    targets: [
        // libpq, found through pkg-config (Debian: libpq-dev).
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        // glibc's <malloc.h> (mallopt): the service fixes the allocator's mmap threshold (docs/performance.md).
        .systemLibrary(name: "CMalloc"),

        // The feed's data: option symbols, the trade model, the wire decoder, and the wall clock,
        // ISO-8601/civil-date and JSON string helpers every layer shares. Pure, no I/O.
        .target(name: "OptionsFeed"),

        // The pure machines, in folders by concern (docs/design.md §1.1): buffer and flush decisions,
        // resilience (backoff, breakers, retries), the feed connection, health rules, leader election, recording.
        .target(
            name: "IngestPipeline",
            dependencies: ["OptionsFeed", .product(name: "DequeModule", package: "swift-collections")]
        ),

        // The spool's file I/O, record codec and CRC32C, and the descriptor write loop the recorder and the console share.
        .target(name: "IngestSpool", dependencies: ["OptionsFeed"]),

        // The database side: libpq connection, pool, COPY binary encoder, the writer, one dialect file per database, migrations.
        .target(
            name: "IngestDatabase",
            dependencies: [
                "CLibPQ", "OptionsFeed",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // The long-running services: feed session and service, flusher, health, leader, recorder, replay.
        .target(
            name: "IngestService",
            dependencies: [
                "OptionsFeed", "IngestPipeline", "IngestSpool", "IngestDatabase",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),

        // The HTTP status server, the dashboard page and the Prometheus exposition: the only module
        // that imports Hummingbird and Prometheus.
        .target(
            name: "IngestStatus",
            dependencies: [
                "IngestService", "IngestPipeline",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),

        // The composition root: settings and configuration, start-up, the JSON log backend and console, exit codes.
        .target(
            name: "IngestApp",
            dependencies: [
                "OptionsFeed", "IngestPipeline", "IngestSpool", "IngestDatabase", "IngestService", "IngestStatus", "CMalloc",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
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
                "IngestApp", "IngestPipeline",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            // The service's relocations packed (DT_RELR, glibc ≥ 2.36), which gold cannot write: a
            // PIE's 1.3 MB of relative relocations, read at every start and resident for good, become
            // 11 KB (docs/performance.md, "Packed relocations"). lld comes with the Swift toolchain.
            linkerSettings: [
                .unsafeFlags(["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs"], .when(platforms: [.linux]))
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
        .testTarget(name: "IngestSpoolTests", dependencies: ["IngestSpool", "OptionsFeed"]),
        .testTarget(name: "IngestDatabaseTests", dependencies: ["IngestDatabase", "IngestTestSupport"]),
        .testTarget(
            name: "IngestServiceTests",
            dependencies: [
                "IngestService", "IngestStatus", "IngestSpool", "IngestPipeline", "OptionsFeed", "IngestTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ]),
        .testTarget(
            name: "IngestStatusTests",
            dependencies: [
                "IngestStatus", "IngestService", "IngestPipeline", "IngestTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]),
        .testTarget(
            name: "IngestAppTests",
            dependencies: ["IngestApp", "IngestService", "IngestSpool", "IngestDatabase", "IngestTestSupport", "CMalloc"]),
        // FeedSimulator for the contracts of a seeded stream (to subscribe quotes and FMV values of contracts that trade).
        .testTarget(name: "EndToEndTests", dependencies: ["FeedSimulator", "IngestApp", "IngestDatabase", "IngestPipeline", "IngestSpool", "IngestService", "OptionsFeed", "IngestTestSupport"]),
        // The REST client's tests run against feed-sim's REST API in process.
        .testTarget(
            name: "FeedSimulatorTests",
            dependencies: [
                "FeedSimulator", "IngestService", "IngestPipeline", "OptionsFeed", "IngestTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]),
    ],
    swiftLanguageModes: [.v6]
)
