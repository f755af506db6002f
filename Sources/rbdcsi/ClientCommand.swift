import ArgumentParser
import CSIProtocol
import CSIServices
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import PluginRuntime
import SwiftProtobuf

#if canImport(Glibc)
import Glibc
#endif

/// `rbdcsi client`: a small CSI client (like `csc`) that calls a plugin over its unix socket
/// and prints each response as JSON.
struct ClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "client",
        abstract: "Call a CSI plugin over its unix socket and print the responses as JSON.",
        subcommands: [IdentityCommands.self, NodeCommands.self, ControllerCommands.self]
    )

    @Option(help: "CSI endpoint of the plugin: unix://PATH.")
    var endpoint: String = "unix:///tmp/csi.sock"

    @Option(help: "Seconds before a call is given up (DEADLINE_EXCEEDED).")
    var timeout: Int = 300

    /// Connects, runs `body` with the connected client, and prints a failed call as one line.
    func withClient<R: Sendable>(_ body: @Sendable (GRPCClient<HTTP2ClientTransport.Posix>) async throws -> R) async throws -> R {
        let endpoint = try PluginEndpoint(parsing: endpoint)
        do {
            return try await withGRPCClient(
                transport: .http2NIOPosix(target: .unixDomainSocket(path: endpoint.socketPath), transportSecurity: .plaintext)
            ) { client in
                try await body(client)
            }
        } catch let error as RPCError {
            throw CallFailure(error: error)
        }
    }

    /// Connects, makes one call with this command's timeout, and prints the response as JSON.
    func call<Response: SwiftProtobuf.Message & Sendable>(
        _ body: @Sendable (GRPCClient<HTTP2ClientTransport.Posix>, CallOptions) async throws -> Response
    ) async throws {
        let options = callOptions
        let response = try await withClient { grpc in try await body(grpc, options) }
        try Self.printJSON(response)
    }

    var callOptions: CallOptions {
        var options = CallOptions.defaults
        options.timeout = .seconds(timeout)
        return options
    }

    /// Prints a response message as one line of JSON.
    static func printJSON(_ message: some SwiftProtobuf.Message) throws {
        var options = JSONEncodingOptions()
        options.alwaysPrintEnumsAsInts = false
        print(try message.jsonString(options: options))
    }
}

/// A failed call: printed as `CODE: message`, exit status 1.
struct CallFailure: Error, CustomStringConvertible {
    var error: RPCError
    var description: String { "\(error.code.wireName): \(error.message)" }
}
