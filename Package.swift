// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "rbdcsi",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "rbdcsi", targets: ["rbdcsi"]),
        .executable(name: "rbdcsi-bench", targets: ["RBDCSIBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/grpc/grpc-swift-2.git", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport.git", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0", traits: []),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.81.0"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.36.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.30.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
    ],
    targets: [
        // Layer 0: CSI v1 wire types and gRPC stubs, generated from Protos/csi.proto.
        .target(
            name: "CSIProtocol",
            dependencies: [
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // Tiny C shims for Linux system calls Swift cannot call directly (pidfd_open, the vfork
        // spawn with close_range and its fallback for kernels before 5.9).
        .target(name: "CSystemShims"),
        // librados and librbd from Debian's librados-dev and librbd-dev (no pkg-config files):
        // the headers' types and declarations; the functions come from CCephLoader, which
        // opens the libraries on first use.
        .systemLibrary(name: "CLibCeph"),
        .target(name: "CCephLoader"),
        // Layer 1: host operations (child processes, mount table, mounts, mkfs, fsck, files).
        .target(
            name: "HostOperations",
            dependencies: [
                "CSystemShims",
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        // Layer 1: access to Ceph (volume ids, journal and image metadata through librados and
        // librbd, credentials, mappers: krbd, rbd-nbd, rbd-fuse).
        .target(
            name: "CephAccess",
            dependencies: [
                "CLibCeph",
                "CCephLoader",
                "HostOperations",
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        // Layer 1: a small read-only Kubernetes API client (node labels, secrets, volumes).
        .target(
            name: "KubernetesAccess",
            dependencies: [
                "HostOperations",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // Layer 2: the CSI Identity, Node and Controller services.
        .target(
            name: "CSIServices",
            dependencies: [
                "CSIProtocol",
                "HostOperations",
                "CephAccess",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        // Layer 1: gRPC over HTTP/2 from NIOHTTP2's frames: typed unary and server-streaming
        // methods, limits, deadlines, cancellation; error mapping and call observation come
        // from above. Knows nothing of CSI.
        .target(
            name: "GRPCTransport",
            dependencies: [
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
            ],
            swiftSettings: swiftSettings
        ),
        // Layer 3: the plugin process: endpoint, socket lock, gRPC server and its lifecycle.
        .target(
            name: "PluginRuntime",
            dependencies: [
                "GRPCTransport",
                "CSystemShims",
                "CephAccess",
                "KubernetesAccess",
                "CSIProtocol",
                "CSIServices",
                "HostOperations",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: swiftSettings
        ),
        // Layer 4: the executable: flags, server, lifecycle, and the built-in CSI client.
        .executableTarget(
            name: "rbdcsi",
            dependencies: [
                "PluginRuntime",
                "KubernetesAccess",
                "CSIProtocol",
                "CSIServices",
                "HostOperations",
                "CephAccess",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings,
            // lld with packed relative relocations (DT_RELR, glibc 2.36+): the position-
            // independent binary's relative relocations shrink from megabytes of RELA entries,
            // which the loader reads (and keeps resident) at every start, to a small bitmap.
            // Idle resident set -1 MiB (dynamic build) to -1.4 MiB (the image's static one).
            linkerSettings: [.unsafeFlags(["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs"], .when(platforms: [.linux]))]
        ),
        // The benchmark harness (scripts/bench): drives a release rbdcsi process over gRPC.
        .executableTarget(
            name: "RBDCSIBench",
            dependencies: [
                "CSIProtocol",
                "HostOperations",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        // The fake Kubernetes API server the client's and the plugin's tests share.
        .target(
            name: "KubernetesTestSupport",
            dependencies: ["KubernetesAccess", "HostOperations"],
            path: "Tests/KubernetesTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "HostOperationsTests",
            dependencies: ["HostOperations"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KubernetesAccessTests",
            dependencies: ["KubernetesAccess", "HostOperations", "KubernetesTestSupport"],
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "GRPCTransportTests",
            dependencies: [
                "GRPCTransport",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PluginRuntimeTests",
            dependencies: [
                "PluginRuntime", "GRPCTransport", "HostOperations", "KubernetesAccess", "CSIServices", "CSIProtocol", "KubernetesTestSupport",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CSIServicesTests",
            dependencies: [
                "CSIServices", "CSIProtocol", "HostOperations", "CephAccess",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RBDCSIIntegrationTests",
            dependencies: [
                "PluginRuntime",
                "GRPCTransport",
                "CSIProtocol",
                "CSIServices",
                "HostOperations",
                "CephAccess",
                "KubernetesAccess",
                "KubernetesTestSupport",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
