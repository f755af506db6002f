import Foundation
import Logging
import Testing

@testable import GRPCTransport
@testable import PluginRuntime

@Suite("Runtime hardening: log escaping, state directory, request size")
struct HardeningRuntimeTests {
    // Item 10: untrusted text never forges a log line or reaches a terminal raw.
    @Test func controlCharactersAreEscaped() {
        #expect(EscapingLogHandler.escape("vol\n2026-01-01 critical forged") == "vol\\n2026-01-01 critical forged")
        #expect(EscapingLogHandler.escape("a\u{1B}[31mred\u{0}b\u{7F}\u{2028}") == "a\\u{1B}[31mred\\u{0}b\\u{7F}\\u{2028}")
        #expect(EscapingLogHandler.escape("back\\slash\ttab\r") == "back\\\\slash\\ttab\\r")
        #expect(EscapingLogHandler.escape("plain ünïcode") == "plain ünïcode")
    }

    @Test func handlerEscapesMessageAndMetadata() {
        let sink = RecordingHandler()
        let handler = EscapingLogHandler(wrapping: sink)
        handler.log(event: LogEvent(level: .info, message: "rpc\nforged", metadata: ["volume": "v\n1", "list": .array(["x\u{1B}"])], source: "t", file: #file, function: #function, line: #line))
        let line = sink.lines.value.first ?? ""
        #expect(line.hasPrefix("rpc\\nforged "))
        #expect(line.contains("volume=v\\n1"))
        #expect(line.contains("u{1B}"))
        #expect(!line.unicodeScalars.contains { $0.value < 0x20 })
    }

    // Item 4: key files older plugins left behind are removed at start.
    @Test func stateDirectoryPreparationRemovesLeftoverKeyFiles() throws {
        let directory = "/tmp/rbdcsi-state-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory + "/keys", withIntermediateDirectories: true)
        try "AQ-secret".write(toFile: directory + "/keys/keyfile-Ab12Cd", atomically: false, encoding: .utf8)
        let prepared = try StateDirectory.prepare(directory)
        #expect(prepared == directory)
        #expect(!FileManager.default.fileExists(atPath: directory + "/keys/keyfile-Ab12Cd"))
        #expect(!FileManager.default.fileExists(atPath: directory + "/keys"))
        try FileManager.default.removeItem(atPath: directory)
    }

    @Test func grpcMessageIsPercentEncoded() {
        #expect(GRPCWireFormat.percentEncoded("100% of 4 MiB\n") == "100%25 of 4 MiB%0A")
    }
}

/// Collects what a handler is asked to write, one line per event.
final class RecordingHandler: LogHandler, @unchecked Sendable {
    let lines = LockedLines()
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        let fields = (event.metadata ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        lines.append(([event.message.description] + fields).joined(separator: " "))
    }
}

final class LockedLines: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [String] = []
    func append(_ line: String) { lock.withLock { stored.append(line) } }
    var value: [String] { lock.withLock { stored } }
}
