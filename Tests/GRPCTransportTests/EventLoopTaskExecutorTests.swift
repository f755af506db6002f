import NIOCore
import NIOPosix
import Testing

@testable import GRPCTransport

@Suite struct EventLoopTaskExecutorTests {
    @Test func aTaskThatPrefersTheLoopRunsAndResumesOnIt() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let executor = EventLoopTaskExecutor(loop)
        let onLoop = await Task(executorPreference: executor) { () -> [Bool] in
            let first = loop.inEventLoop
            // A suspension resumes on the loop again, not on the cooperative pool.
            try? await Task.sleep(for: .milliseconds(10))
            return [first, loop.inEventLoop]
        }.value
        #expect(onLoop == [true, true])
        let elsewhere = await Task { loop.inEventLoop }.value
        #expect(!elsewhere)
    }
}
