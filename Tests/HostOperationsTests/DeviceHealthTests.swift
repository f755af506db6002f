import Foundation
import Testing

@testable import HostOperations

/// The VolumeCondition read (issue 15): calls that overlap on one device share its read, and a
/// volume asked often is answered at once while a new check runs in the background.
@Suite("Device health: concurrent checks of one device")
struct DeviceHealthTests {
    /// A loop device over a 4 MiB file for `body`, detached afterwards.
    private static func withLoopDevice(_ body: (String) async throws -> Void) async throws {
        let file = NSTemporaryDirectory() + "rbdcsi-health-\(UUID().uuidString.prefix(8)).img"
        try Data(count: 4 << 20).write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let runner = ProcessRunner()
        let device = try await runner.runChecked(Command("losetup", ["--find", "--show", file], timeout: .seconds(30))).standardOutput.trimmingWhitespace()
        var failure: (any Error)?
        do { try await body(device) } catch { failure = error }
        _ = try? await runner.runChecked(Command("losetup", ["--detach", device], timeout: .seconds(30)))
        if let failure { throw failure }
    }

    /// Eight checks at once of a healthy loop device: one read, and every call answers healthy.
    /// (Before, the calls that found the first read under way called the device stuck.)
    @Test func overlappingChecksOfAHealthyDeviceAllAnswerHealthy() async throws {
        try await Self.withLoopDevice { device in
            for _ in 0..<5 {
                let health = DeviceHealth(readLimit: .seconds(10), cacheFor: .seconds(60))
                let problems = await withTaskGroup(of: String?.self) { group in
                    for _ in 0..<8 { group.addTask { await health.problem(of: device) } }
                    return await group.reduce(into: [String?]()) { $0.append($1) }
                }
                #expect(problems.allSatisfy { $0 == nil }, "\(problems.compactMap { $0 })")
                #expect(health.reads == 1)
            }
        }
    }

    /// An answer past `refreshAfter` is given at once and a new read starts beside it; one past
    /// `cacheFor` is never given: the caller waits for a new read.
    @Test func anAgingAnswerIsRefreshedInTheBackgroundAndAnExpiredOneNeverGiven() async throws {
        try await Self.withLoopDevice { device in
            let refreshing = DeviceHealth(readLimit: .seconds(10), cacheFor: .seconds(60), refreshAfter: .zero)
            #expect(await refreshing.problem(of: device) == nil)
            #expect(refreshing.reads == 1)
            // Answered from the first read; the second read was started before the answer.
            #expect(await refreshing.problem(of: device) == nil)
            #expect(refreshing.reads == 2)

            let expiring = DeviceHealth(readLimit: .seconds(10), cacheFor: .zero)
            for _ in 0..<3 { #expect(await expiring.problem(of: device) == nil) }
            #expect(expiring.reads == 3)
        }
    }

    /// A device that cannot be read is reported with the error, and the answer is kept.
    @Test func aDeviceThatCannotBeOpenedIsAProblem() async throws {
        let health = DeviceHealth(readLimit: .seconds(10), cacheFor: .seconds(60))
        let problem = await health.problem(of: "/dev/rbdcsi-no-such-device")
        #expect(problem?.hasPrefix("reading from /dev/rbdcsi-no-such-device failed") == true, "\(problem ?? "nil")")
        #expect(await health.problem(of: "/dev/rbdcsi-no-such-device") == problem)
        #expect(health.reads == 1)
    }

    /// Given a mount point, the check reads the filesystem's usage too, and a kept answer
    /// carries it: the second call reads nothing. A health answer kept without the usage does
    /// not answer a caller that asks for it.
    @Test func theUsageIsReadByTheCheckAndKeptWithIt() async throws {
        try await Self.withLoopDevice { device in
            let health = DeviceHealth(readLimit: .seconds(10), cacheFor: .seconds(60))
            #expect(await health.problem(of: device) == nil)
            let mountPoint = NSTemporaryDirectory()
            let first = await health.report(of: device, mountPoint: mountPoint)
            #expect(first.problem == nil)
            #expect(health.reads == 2)
            let usage = try #require(first.usage)
            let direct = try FilesystemUsage.of(mountPoint)
            #expect(usage.totalBytes == direct.totalBytes && usage.totalBytes > 0)
            #expect(await health.report(of: device, mountPoint: mountPoint).usage == usage)
            #expect(health.reads == 2)
        }
    }

    /// A mount point whose statvfs fails is a problem of the volume, named with the error.
    @Test func aMountThatCannotBeReadIsAProblem() async throws {
        try await Self.withLoopDevice { device in
            let health = DeviceHealth(readLimit: .seconds(10), cacheFor: .seconds(60))
            let report = await health.report(of: device, mountPoint: "/rbdcsi-no-such-mount")
            #expect(report.usage == nil)
            #expect(report.problem?.hasPrefix("mount /rbdcsi-no-such-mount is corrupted") == true, "\(report.problem ?? "nil")")
        }
    }

    /// An answer is forgotten when its device is mapped or unmapped (device names are reused):
    /// the next call reads the device again.
    @Test func aForgottenAnswerIsReadAgain() async throws {
        try await Self.withLoopDevice { device in
            let health = DeviceHealth(readLimit: .seconds(10), cacheFor: .seconds(60))
            #expect(await health.problem(of: device) == nil)
            #expect(await health.problem(of: device) == nil)
            #expect(health.reads == 1)
            health.forget(device)
            #expect(await health.problem(of: device) == nil)
            #expect(health.reads == 2)
        }
    }
}
