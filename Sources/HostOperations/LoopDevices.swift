import CSystemShims

/// Loop devices, read from sysfs rather than by `losetup -j`, which stats the backing file and
/// would hang in the kernel if that file sits on a FUSE daemon that stopped answering.
public enum LoopDevices {
    /// How many bytes of the setup-time file name the kernel keeps (LO_NAME_SIZE - 1).
    public static let setupNameLength = 63

    /// The loop devices whose backing file is `file`, including those whose file's mount was
    /// lazily unmounted: sysfs then shows the file relative to the detached mount (`/<name>`),
    /// and the setup-time name (`setupName`) confirms it is this file.
    public static func backing(_ file: String) async -> [String] {
        let detached = "/" + (file.split(separator: "/").last.map(String.init) ?? file)
        let names = (try? DirectoryEntries.names(in: "/sys/block")) ?? []
        var devices: [String] = []
        for name in names.filter({ $0.hasPrefix("loop") }).sorted() {
            guard let backing = backingFile(ofLoop: name) else { continue }
            if backing == file {
                devices.append("/dev/\(name)")
            } else if backing == detached,
                      await boundedSetupName(of: "/dev/\(name)") == String(decoding: file.utf8.prefix(setupNameLength), as: UTF8.self) {
                devices.append("/dev/\(name)")
            }
        }
        return devices
    }

    /// Whether a sysfs backing file is the form a lazily unmounted file takes: one component.
    public static func isDetachedForm(_ backing: String) -> Bool {
        backing.hasPrefix("/") && backing.dropFirst().firstIndex(of: "/") == nil && backing.count > 1
    }

    /// `setupName` on the blocking executor, given up after `limit`: the kernel answers the
    /// ioctl only after a getattr on the backing file, which a hung FUSE daemon never answers.
    public static func boundedSetupName(of device: String, limit: Duration = .seconds(1)) async -> String? {
        (try? await BlockingExecutor.shared.run("read the setup name of \(device)", limit: limit) { setupName(of: device) }) ?? nil
    }

    /// The file behind loop device `name` (`loop3`) as sysfs shows it now.
    public static func backingFile(ofLoop name: String) -> String? {
        (try? FileText.read("/sys/block/\(name)/loop/backing_file"))?.trimmingWhitespace()
    }

    /// The file name `device` was set up with, truncated by the kernel to 63 bytes. Blocks
    /// while the backing file's FUSE daemon does not answer: call `boundedSetupName`.
    public static func setupName(of device: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 64)
        guard rbdcsi_loop_file_name(device, &buffer, buffer.count) == 0 else { return nil }
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
