import Foundation
import Testing

@testable import HostOperations

/// The VolumeCondition read (issue 15): calls that overlap on one device share its read.
@Suite("Device health: concurrent checks of one device")
struct DeviceHealthTests {
    /// Eight checks at once of a healthy loop device: one read, and every call answers healthy.
    /// (Before, the calls that found the first read under way called the device stuck.)
    @Test func overlappingChecksOfAHealthyDeviceAllAnswerHealthy() async throws {
        let file = NSTemporaryDirectory() + "rbdcsi-health-\(UUID().uuidString.prefix(8)).img"
        try Data(count: 4 << 20).write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let runner = ProcessRunner()
        let device = try await runner.runChecked(Command("losetup", ["--find", "--show", file], timeout: .seconds(30))).standardOutput.trimmingWhitespace()
        for _ in 0..<5 {
            let health = DeviceHealth(readLimit: .seconds(10), cacheFor: .seconds(60))
            let problems = await withTaskGroup(of: String?.self) { group in
                for _ in 0..<8 { group.addTask { await health.problem(of: device) } }
                return await group.reduce(into: [String?]()) { $0.append($1) }
            }
            #expect(problems.allSatisfy { $0 == nil }, "\(problems.compactMap { $0 })")
        }
        _ = try? await runner.runChecked(Command("losetup", ["--detach", device], timeout: .seconds(30)))
    }
}
