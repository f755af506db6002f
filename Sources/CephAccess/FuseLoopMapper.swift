import HostOperations

#if canImport(Glibc)
import Glibc
#endif

/// Maps for kernels without rbd or nbd: `rbd-fuse` exposes the image as a file under a
/// per-image directory in `stateDirectory`, and a loop device over that file is the block
/// device. Unmapping detaches the loop device and unmounts the FUSE mount, which ends the
/// rbd-fuse daemon: nothing is left behind.
public struct FuseLoopMapper: ImageMapping {
    public let runner: any CommandRunning
    public let mountTable: any MountTableReading
    public let stateDirectory: String
    public let timeout: Duration

    public init(runner: any CommandRunning, mountTable: any MountTableReading, stateDirectory: String, timeout: Duration = .seconds(120)) {
        self.runner = runner
        self.mountTable = mountTable
        self.stateDirectory = stateDirectory
        self.timeout = timeout
    }

    /// Where the FUSE mounts of a plugin with state directory `stateDirectory` are.
    public static func fuseDirectory(in stateDirectory: String) -> String { "\(stateDirectory)/fuse" }

    /// The FUSE mount point for `spec`: one directory per image.
    public func mountPoint(of spec: ImageSpec) -> String {
        "\(Self.fuseDirectory(in: stateDirectory))/\(Self.name(of: spec))"
    }

    /// Where the rbd-fuse daemons write their Ceph logs.
    public var logDirectory: String { "\(stateDirectory)/log" }

    /// One file-name-safe name per image (pool, namespace and image joined by `@`).
    static func name(of spec: ImageSpec) -> String {
        [spec.pool, spec.radosNamespace, spec.image].map { $0.replacingSlashes() }.joined(separator: "@")
    }

    private func imageFile(of spec: ImageSpec) -> String { "\(mountPoint(of: spec))/\(spec.image)" }

    public func mappedDevice(of spec: ImageSpec) async throws -> String? {
        guard try mountTable.isMountPoint(mountPoint(of: spec)) else { return nil }
        return await LoopDevices.backing(imageFile(of: spec)).first
    }

    public func map(_ request: MapRequest) async throws -> String {
        let directory = mountPoint(of: request.spec)
        try HostPaths.makeDirectories(directory, mode: 0o700)
        if try !mountTable.isMountPoint(directory) {
            var arguments = [directory, "-p", request.spec.pool, "-r", request.spec.image,
                             "--id", request.userID, "-m", request.monitors, "--keyfile=\(Command.secretFilePath)"]
            // rbd-fuse passes unknown options to FUSE: only the `--namespace=NS` form reaches it.
            if !request.spec.radosNamespace.isEmpty { arguments.append("--namespace=\(request.spec.radosNamespace)") }
            // Its Ceph log goes under the state directory, not to /var/log/ceph/ceph-client.<user>.log.
            try HostPaths.makeDirectories(logDirectory, mode: 0o700)
            arguments.append("--log-file=\(logDirectory)/rbd-fuse-\(Self.name(of: request.spec)).log")
            do {
                try await runner.runChecked(request.mapCommand("rbd-fuse", arguments, timeout: timeout))
            } catch {
                try? await unmap(request.spec, options: [])
                throw error
            }
        }
        let file = imageFile(of: request.spec)
        guard HostPaths.exists(file) else {
            try? await unmap(request.spec, options: [])
            throw CephAccessError.imageNotFound(request.spec)
        }
        var arguments = ["--find", "--show"]
        if request.readOnly { arguments.append("--read-only") }
        do {
            let result = try await runner.runChecked(Command("losetup", arguments + [file], timeout: timeout))
            return result.standardOutput.trimmingWhitespace()
        } catch {
            try? await unmap(request.spec, options: [])
            throw error
        }
    }

    /// Detaches the loop devices over the image file (found also after the FUSE mount was
    /// lazily unmounted), unmounts the FUSE mount, and, when the mount was already gone, makes
    /// sure its rbd-fuse daemon is: a daemon left running keeps a watch on the image and
    /// blocks its next stage.
    public func unmap(_ spec: ImageSpec, options: [String]) async throws {
        let directory = mountPoint(of: spec)
        let file = imageFile(of: spec)
        for device in await LoopDevices.backing(file) {
            try await runner.runChecked(Command("losetup", ["-d", device], timeout: timeout))
        }
        if try mountTable.isMountPoint(directory) {
            // The kernel releases a loop device's backing file asynchronously once its last
            // opener (a just-finished mkfs, an unmount) is gone; until then the FUSE mount is
            // busy. Wait for the release, bounded, before unmounting.
            try await waitUntilReleased(file)
            try await runner.runChecked(Command("umount", [directory], timeout: timeout))
        } else {
            // Unmounted under us (lazily): its daemon lives on until its last loop device is
            // gone, and may not end by itself. An unmounted daemon ends on its own.
            try await endDaemons(of: directory)
        }
        try HostPaths.remove(directory)
    }
}

extension FuseLoopMapper {
    /// The rbd-fuse daemons serving `directory`: they end by themselves once their mount is
    /// gone (also a lazily unmounted one, when its last loop device is detached); one that
    /// is still there after a few seconds is killed.
    private func endDaemons(of directory: String) async throws {
        let isDaemon: ([String]) -> Bool = { argv in
            argv.count > 1 && argv[0].split(separator: "/").last == "rbd-fuse" && argv[1] == directory
        }
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(5)
        var pids = ProcessTable.pids(where: isDaemon)
        while !pids.isEmpty && clock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
            pids = pids.filter(ProcessTable.isRunning)
        }
        for pid in pids { _ = kill(pid, SIGKILL) }
    }

    private func waitUntilReleased(_ file: String) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(10)
        while await !LoopDevices.backing(file).isEmpty {
            guard clock.now < deadline else {
                throw CommandError.timedOut(command: "wait for loop devices over \(file) to detach", after: .seconds(10), standardError: "")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

extension String {
    fileprivate func replacingSlashes() -> String {
        String(map { $0 == "/" ? "_" : $0 })
    }
}
