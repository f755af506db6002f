import Foundation
import HostOperations
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Child processes: output, exit codes, timeouts, cancellation")
struct ProcessRunnerTests {
    let runner = ProcessRunner()

    @Test func capturesOutputAndExitCode() async throws {
        let result = try await runner.run(Command("sh", ["-c", "echo out; echo err >&2; exit 3"], timeout: .seconds(10)))
        #expect(result.exitCode == 3)
        #expect(result.standardOutput == "out\n")
        #expect(result.standardError == "err\n")
    }

    @Test func runCheckedNamesCommandExitCodeAndStderr() async throws {
        let error = await #expect(throws: CommandError.self) {
            try await runner.runChecked(Command("sh", ["-c", "echo boom >&2; exit 7"], timeout: .seconds(10)))
        }
        let text = error?.description ?? ""
        #expect(text.contains("sh -c"))
        #expect(text.contains("exit code 7"))
        #expect(text.contains("boom"))
    }

    @Test func timeoutKillsTheWholeProcessGroup() async throws {
        let start = ContinuousClock.now
        let error = await #expect(throws: CommandError.self) {
            // The grandchild `sleep` would keep the pipes open if it survived.
            try await runner.run(Command("sh", ["-c", "sleep 30 & sleep 30"], timeout: .milliseconds(300)))
        }
        guard case .timedOut = error else {
            Issue.record("expected a timeout, got \(String(describing: error))")
            return
        }
        #expect(ContinuousClock.now - start < .seconds(10))
    }

    @Test func cancellationKillsTheChild() async throws {
        let marker = "/tmp/rbdcsi-cancel-\(UUID().uuidString.prefix(8))"
        defer { unlink(marker) }
        let task = Task { try await runner.run(Command("sh", ["-c", "touch \(marker); exec sleep 30"], timeout: .seconds(60))) }
        // Cancelled once the child runs (not before it is spawned, which would never start it).
        #expect(try await Self.waitFor { access(marker, F_OK) == 0 })
        let start = ContinuousClock.now
        task.cancel()
        let result = await task.result
        #expect(ContinuousClock.now - start < .seconds(5))
        guard case .failure(let error as CommandError) = result, case .cancelled = error else {
            Issue.record("expected cancellation, got \(result)")
            return
        }
    }

    @Test func missingProgramIsALaunchFailure() async throws {
        let error = await #expect(throws: CommandError.self) {
            try await runner.run(Command("no-such-program-rbdcsi", [], timeout: .seconds(5)))
        }
        #expect(error?.description.contains("command not found") == true)
    }

    @Test func standardInputIsDelivered() async throws {
        let result = try await runner.run(Command("cat", [], timeout: .seconds(5), standardInput: Array("secret".utf8)))
        #expect(result.standardOutput == "secret")
    }

    /// A child that closes its standard input unread: the rest of a 1 MiB input is dropped
    /// (EPIPE, not a SIGPIPE that would end the plugin) and the child's own answer comes back.
    @Test func inputAChildDoesNotReadIsDropped() async throws {
        let result = try await runner.run(Command("sh", ["-c", "exec 0<&-; sleep 0.2; echo done; exit 3"], timeout: .seconds(10), standardInput: [UInt8](repeating: 7, count: 1 << 20)))
        #expect(result.exitCode == 3)
        #expect(result.standardOutput == "done\n")
    }

    @Test func daemonizedGrandchildDoesNotBlockCompletion() async throws {
        let start = ContinuousClock.now
        // The grandchild keeps the output pipe open for 30 s; returning well before that shows
        // the runner waited for the child only (the bound leaves room for a loaded machine).
        let result = try await runner.run(Command("sh", ["-c", "(sleep 30 &) ; echo started"], timeout: .seconds(60)))
        #expect(result.standardOutput.hasPrefix("started"))
        #expect(ContinuousClock.now - start < .seconds(15))
    }

    /// Waits for `condition`, checked every 10 ms, for at most `limit`.
    static func waitFor(_ limit: Duration = .seconds(10), _ condition: () -> Bool) async throws -> Bool {
        let end = ContinuousClock.now + limit
        while ContinuousClock.now < end {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return condition()
    }

    /// The threads of this process now.
    static func threadCount() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count) ?? 0
    }

    /// The children of this process now (each thread's, as the kernel lists them).
    static func childCount() -> Int {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.reduce(0) { count, task in
            count + ((try? String(contentsOfFile: "/proc/self/task/\(task)/children", encoding: .utf8))?.split(separator: " ").count ?? 0)
        }
    }

    /// 96 children that hang (until cancelled) take no thread each: the process's thread count
    /// stays about where it was (with a thread per waiting child it grew by 74 here, dispatch's
    /// cap, and later children waited for a thread), and a short command runs at once beside them.
    @Test func hungChildrenTakeNoThreadAndStarveNothing() async throws {
        _ = try await runner.run(Command("true", [], timeout: .seconds(10)))
        // Threads other suites running beside this one may start (the executor's 16 on first
        // use among them) are started first or left room for; a thread per child is 96 more.
        _ = BlockingExecutor.shared
        let before = Self.threadCount()
        let hung = (0..<96).map { _ in Task { try await runner.run(Command("sleep", ["60"], timeout: .seconds(120))) } }
        defer { for task in hung { task.cancel() } }
        #expect(try await Self.waitFor { Self.childCount() >= 96 })
        let start = ContinuousClock.now
        let quick = try await runner.run(Command("echo", ["beside"], timeout: .seconds(10)))
        #expect(quick.standardOutput == "beside\n")
        #expect(ContinuousClock.now - start < .seconds(2))
        #expect(Self.threadCount() <= before + 24, "threads: \(before) before, \(Self.threadCount()) with \(Self.childCount()) children waiting")
        for task in hung { task.cancel() }
        for task in hung {
            guard case .failure(CommandError.cancelled) = await task.result else {
                Issue.record("a hung child was not cancelled")
                continue
            }
        }
    }
}
