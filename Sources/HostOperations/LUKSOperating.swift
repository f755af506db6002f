/// LUKS2 encryption of block devices with cryptsetup. The seam for faking the host in unit tests.
public protocol LUKSOperating: Sendable {
    /// Formats `device` as LUKS2 with `passphrase` (ceph-csi's parameters).
    func format(device: String, passphrase: String) async throws
    /// Opens `device` as `/dev/mapper/<name>`.
    func open(device: String, name: String, passphrase: String) async throws
    /// Closes `/dev/mapper/<name>`; a mapping that is not open is fine.
    func close(name: String) async throws
    /// Whether `/dev/mapper/<name>` exists (no child process).
    func isOpen(name: String) -> Bool
    /// Grows the open mapping `/dev/mapper/<name>` to its device's size, online.
    func resize(name: String) async throws
}

/// `cryptsetup`, the passphrase always on standard input (never in arguments or files).
public struct CryptSetup: LUKSOperating {
    public let runner: any CommandRunning
    public let timeout: Duration

    public init(runner: any CommandRunning, timeout: Duration = .seconds(300)) {
        self.runner = runner
        self.timeout = timeout
    }

    public func format(device: String, passphrase: String) async throws {
        try await runner.runChecked(Command(
            "cryptsetup", ["-q", "luksFormat", "--type", "luks2", "--hash", "sha256", "--pbkdf-memory", "32768", device, "-d", "/dev/stdin"],
            timeout: timeout, standardInput: Array(passphrase.utf8)
        ))
    }

    public func open(device: String, name: String, passphrase: String) async throws {
        try await runner.runChecked(Command(
            "cryptsetup", ["luksOpen", device, name, "--disable-keyring", "-d", "/dev/stdin"],
            timeout: timeout, standardInput: Array(passphrase.utf8)
        ))
    }

    public func close(name: String) async throws {
        guard isOpen(name: name) else { return }
        try await runner.runChecked(Command("cryptsetup", ["luksClose", name], timeout: timeout))
    }

    public func isOpen(name: String) -> Bool {
        HostPaths.exists("/dev/mapper/\(name)")
    }

    /// `cryptsetup resize`: no passphrase needed, as mappings are opened with
    /// `--disable-keyring` (the volume key is in the device-mapper table).
    public func resize(name: String) async throws {
        try await runner.runChecked(Command("cryptsetup", ["resize", name], timeout: timeout))
    }
}
