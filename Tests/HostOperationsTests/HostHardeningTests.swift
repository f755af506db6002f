import Foundation
import HostOperations
import Testing

/// Issue 16: what the host layer refuses or never does, whatever paths and leftovers it meets.
@Suite("Host hardening: paths, removal, children, secrets, mkfs options")
struct HostHardeningTests {
    let root: String

    init() throws {
        root = "/tmp/rbdcsi-harden-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: root + "/real", withIntermediateDirectories: true)
    }

    /// A chmod to the mode a path already has is skipped: it would still dirty the inode
    /// (ctime), which a staged filesystem writes back through its mapper at unmount.
    @Test func chmodToTheSameModeLeavesTheInodeAlone() throws {
        let path = root + "/real/mode"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        func status() -> stat {
            var info = stat()
            _ = stat(path, &info)
            return info
        }
        try HostPaths.chmod(path, 0o777)
        let first = status()
        #expect(first.st_mode & 0o7777 == 0o777)
        usleep(20_000)
        try HostPaths.chmod(path, 0o777)
        let again = status()
        #expect(again.st_ctim.tv_sec == first.st_ctim.tv_sec && again.st_ctim.tv_nsec == first.st_ctim.tv_nsec)
        try HostPaths.chmod(path, 0o750)
        let changed = status()
        #expect(changed.st_mode & 0o7777 == 0o750)
        #expect(changed.st_ctim.tv_sec != first.st_ctim.tv_sec || changed.st_ctim.tv_nsec != first.st_ctim.tv_nsec)
        #expect(throws: HostError.self) { try HostPaths.chmod(root + "/real/missing", 0o777) }
    }

    // Item 1: staging and target paths must be absolute, canonical and free of links.
    @Test func canonicalPathsAreAcceptedAndOthersNamed() throws {
        try FileManager.default.createSymbolicLink(atPath: root + "/link", withDestinationPath: "/etc")
        #expect(CanonicalPath.problem(with: root + "/real") == nil)
        #expect(CanonicalPath.problem(with: root + "/real/not-yet/deeper") == nil)
        #expect(CanonicalPath.problem(with: "relative/path")?.contains("not absolute") == true)
        #expect(CanonicalPath.problem(with: root + "/real/../link")?.contains("'..'") == true)
        #expect(CanonicalPath.problem(with: root + "/./real")?.contains("'.'") == true)
        #expect(CanonicalPath.problem(with: root + "//real")?.contains("empty component") == true)
        #expect(CanonicalPath.problem(with: root + "/real/")?.contains("empty component") == true)
        #expect(CanonicalPath.problem(with: root + "/link")?.contains("symbolic link") == true)
        #expect(CanonicalPath.problem(with: root + "/link/ssh")?.contains("\(root)/link is a symbolic link") == true)
        #expect(CanonicalPath.problem(with: root + "/real\0x")?.contains("NUL") == true)
        #expect(CanonicalPath.problem(with: "/")?.contains("root directory") == true)
    }

    @Test func creatingThroughALinkIsRefusedAndTheLinkTargetUntouched() throws {
        let outside = root + "/outside"
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: root + "/dirlink", withDestinationPath: outside)
        try FileManager.default.createSymbolicLink(atPath: root + "/filelink", withDestinationPath: outside + "/victim")
        #expect(throws: HostError.self) { try HostPaths.makeDirectory(root + "/dirlink") }
        #expect(throws: HostError.self) { try HostPaths.makeFile(root + "/filelink") }
        #expect(!FileManager.default.fileExists(atPath: outside + "/victim"))
        // A link planted as the temporary file of an atomic write is replaced, not followed.
        try FileManager.default.createSymbolicLink(atPath: root + "/real/stash.json.tmp", withDestinationPath: outside + "/written")
        try FileText.write("{}", to: root + "/real/stash.json", mode: 0o600)
        #expect(!FileManager.default.fileExists(atPath: outside + "/written"))
        #expect(try FileText.read(root + "/real/stash.json") == "{}")
        #expect(throws: HostError.self) { try FileText.read(root + "/filelink", followLinks: false) }
    }

    // Item 2: only empty files and directories are removed.
    @Test func removeIfEmptyKeepsAnythingHoldingData() throws {
        let file = root + "/real/data"
        try "precious".write(toFile: file, atomically: false, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: root + "/real/full/inner", withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: root + "/real/empty-file", contents: nil)
        try FileManager.default.createDirectory(atPath: root + "/real/empty-dir", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: root + "/real/link", withDestinationPath: file)

        #expect(try HostPaths.removeIfEmpty(file) == .keptHoldingData("\(file) is a file holding 8 bytes"))
        #expect(try HostPaths.removeIfEmpty(root + "/real/full") == .keptHoldingData("\(root)/real/full is a directory that is not empty"))
        #expect(try HostPaths.removeIfEmpty(root + "/real/link") == .keptHoldingData("\(root)/real/link is a symbolic link"))
        #expect(try HostPaths.removeIfEmpty(root + "/real/empty-file") == .removed)
        #expect(try HostPaths.removeIfEmpty(root + "/real/empty-dir") == .removed)
        #expect(try HostPaths.removeIfEmpty(root + "/real/missing") == .missing)
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "precious")
        #expect(FileManager.default.fileExists(atPath: root + "/real/full/inner"))
    }

    // Item 5: a child dies with the plugin.
    @Test func childrenHaveSIGKILLAsParentDeathSignal() async throws {
        // PR_GET_PDEATHSIG (2) through libc, from inside the child itself.
        let script = "import ctypes; v = ctypes.c_int(); ctypes.CDLL(None).prctl(2, ctypes.byref(v)); print(v.value)"
        let result = try await ProcessRunner().runChecked(Command("python3", ["-c", script], timeout: .seconds(30)))
        #expect(result.standardOutput.trimmingWhitespace() == "9")
    }

    // Item 4: the key reaches the child as /dev/fd/3, a memory file, and nowhere on disk.
    @Test func secretFileIsDescriptorThreeInMemoryOnly() async throws {
        let script = "cat /dev/fd/3; echo; readlink /proc/self/fd/3; ls /proc/self/fd | sort -n | tr '\\n' ' '"
        let result = try await ProcessRunner().runChecked(Command("sh", ["-c", script], timeout: .seconds(10), secretFile: Array("AQ-key".utf8)))
        let lines = result.standardOutput.split(separator: "\n").map(String.init)
        #expect(lines.first == "AQ-key")
        #expect(lines.dropFirst().first?.hasPrefix("/memfd:rbdcsi-secret") == true)
        // 0-2, the secret, and the descriptor ls itself opens: nothing else is inherited.
        #expect(lines.last?.split(separator: " ").map(String.init) == ["0", "1", "2", "3", "4"])
        let plain = try await ProcessRunner().runChecked(Command("sh", ["-c", "ls /proc/self/fd | sort -n | tr '\\n' ' '"], timeout: .seconds(10)))
        #expect(plain.standardOutput.split(separator: " ").map(String.init) == ["0", "1", "2", "3"])
    }

    @Test func missingProgramIsAClearLaunchError() async throws {
        let error = await #expect(throws: CommandError.self) {
            try await ProcessRunner().run(Command("rbdcsi-no-such-program", [], timeout: .seconds(5)))
        }
        #expect(error?.description.contains("command not found") == true)
    }

    // Minor: mkfsOptions come from a StorageClass and run as root.
    @Test(arguments: [
        ("ext4", "-d /etc/ssh", "-d"), ("ext4", "-z /tmp/undo", "-z"), ("ext4", "-l /etc/passwd", "-l"),
        ("ext4", "-J device=/dev/vda", "device"), ("ext4", "-E offset=4096", "offset"), ("ext4", "-n", "-n"),
        ("xfs", "-p /etc/protofile", "-p"), ("xfs", "-l logdev=/dev/vda", "logdev"), ("xfs", "-r rtdev=/dev/vdb", "rtdev"),
        ("xfs", "-d file,name=/etc/x", "file"), ("xfs", "-c options=/etc/x", "-c"), ("ext4", "--help", "not an option"),
        ("ext4", "-Fd", "-d"),
    ])
    func dangerousMkfsOptionsAreRefused(fsType: String, options: String, named: String) {
        let problem = MkfsOptionPolicy.problem(fsType: fsType, options: options.split(separator: " ").map(String.init))
        #expect(problem?.contains(named) == true, "\(options): \(problem ?? "allowed")")
    }

    @Test(arguments: [
        ("ext4", "-m0 -Enodiscard,lazy_itable_init=1,lazy_journal_init=1"), ("ext4", "-b 4096 -O ^has_journal -L data -Fq"),
        ("ext4", "-E root_owner=1000:1000 -i 8192 -J size=64"), ("xfs", "-K -m reflink=0"), ("xfs", "-f -d su=64k,sw=4 -L vol -i size=512"),
    ])
    func usualMkfsOptionsAreAllowed(fsType: String, options: String) {
        #expect(MkfsOptionPolicy.problem(fsType: fsType, options: options.split(separator: " ").map(String.init)) == nil)
    }

    @Test func blockingWorkTimesOutWithoutHoldingTheCaller() async throws {
        let executor = BlockingExecutor(threadCount: 1)
        // The work blocks until the test lets it go, so the caller's release cannot be a race
        // with the work ending, whatever the machine's load (the 60 s only stops a hung test).
        let gate = DispatchSemaphore(value: 0)
        let start = ContinuousClock.now
        await #expect(throws: BlockingTimeout.self) {
            try await executor.run("blocked", limit: .milliseconds(200)) { _ = gate.wait(timeout: .now() + 60) }
        }
        #expect(ContinuousClock.now - start >= .milliseconds(200))
        // The one thread is still busy: queued work waits for it and finishes once it is free.
        gate.signal()
        let value = try await executor.run("answer", limit: .seconds(30)) { 42 }
        #expect(value == 42)
    }
}
