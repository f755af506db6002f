import Foundation
import HostOperations

/// The cluster (from `scripts/ceph-cluster`'s exports) and the work directory of a run.
struct BenchSetup: Sendable {
    static let clusterID = "bench"
    let conf: String
    let monitor: String
    let pool: String
    let user: String
    let key: String
    let work: String
    let runner = ProcessRunner()

    init(work: String) throws {
        let environment = ProcessInfo.processInfo.environment
        func value(_ name: String) throws -> String {
            guard let value = environment[name], !value.isEmpty else { throw BenchError("\(name) is not set (eval \"$(scripts/ceph-cluster env DIR)\")") }
            return value
        }
        conf = try value("CEPH_CONF")
        monitor = try value("CEPH_MON_V1")
        pool = environment["CEPH_POOL"] ?? "rbd"
        user = try value("CEPH_CSI_USER")
        key = try value("CEPH_CSI_KEY")
        self.work = work
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        try #"[{"clusterID":"\#(Self.clusterID)","monitors":["\#(monitor)"]}]"#
            .write(toFile: clusterConfig, atomically: true, encoding: .utf8)
    }

    var clusterConfig: String { work + "/config.json" }

    /// Creates `count` images of `sizeMiB` named `prefix-N`, with directories for each.
    func volumes(_ prefix: String, count: Int, sizeMiB: Int = 64) async throws -> [BenchVolume] {
        try await withThrowingTaskGroup(of: BenchVolume.self) { group in
            for index in 0..<count {
                group.addTask {
                    let image = "\(prefix)-\(index)"
                    try await runner.runChecked(Command("rbd", ["-c", conf, "create", "--size", "\(sizeMiB)", "\(pool)/\(image)"], timeout: .seconds(60)))
                    let staging = "\(work)/staging/\(image)"
                    try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
                    // kubelet creates the parent of a target path; the plugin creates the target.
                    try FileManager.default.createDirectory(atPath: "\(work)/pods", withIntermediateDirectories: true)
                    return BenchVolume(image: image, staging: staging, target: "\(work)/pods/\(image)", setup: self)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }.sorted { $0.image < $1.image }
        }
    }
}
