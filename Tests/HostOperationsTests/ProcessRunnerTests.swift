import HostOperations
import Testing

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
        let task = Task { try await runner.run(Command("sleep", ["30"], timeout: .seconds(60))) }
        try await Task.sleep(for: .milliseconds(200))
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

    @Test func daemonizedGrandchildDoesNotBlockCompletion() async throws {
        let start = ContinuousClock.now
        // The grandchild keeps the output pipe open for 30 s; returning well before that shows
        // the runner waited for the child only (the bound leaves room for a loaded machine).
        let result = try await runner.run(Command("sh", ["-c", "(sleep 30 &) ; echo started"], timeout: .seconds(60)))
        #expect(result.standardOutput.hasPrefix("started"))
        #expect(ContinuousClock.now - start < .seconds(15))
    }
}
