import AsyncHTTPClient
import HostOperations
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A small read-only client of the Kubernetes API: GET of the few objects the node plugin
/// reads (its Node, a ConfigMap, Secrets, PersistentVolumes, VolumeAttachments), over TLS that
/// trusts only the configured CA, with a bearer token, each request bounded by `limit`.
///
/// Owns an HTTP client: call `shutdown()` when done (the plugin uses it at start-up, and
/// while it serves for the KMS's Secrets and ConfigMap).
public final class KubernetesClient: Sendable {
    public let config: KubernetesConfig
    public let limit: Duration
    /// Larger answers are refused (a VolumeAttachment list of a big cluster is a few MiB).
    public let maxResponseBytes: Int
    private let http: HTTPClient

    public init(config: KubernetesConfig, limit: Duration = .seconds(10), maxResponseBytes: Int = 32 << 20) throws(KubernetesError) {
        self.config = config
        self.limit = limit
        self.maxResponseBytes = maxResponseBytes
        var tls = TLSConfiguration.makeClientConfiguration()
        do {
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(config.caFile))
        } catch {
            throw .notConfigured("cannot read the CA certificates in \(config.caFile): \(error)")
        }
        let milliseconds = Int64(limit.components.seconds * 1000 + limit.components.attoseconds / 1_000_000_000_000_000)
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: tls,
            redirectConfiguration: .disallow,
            timeout: .init(connect: .milliseconds(min(milliseconds, 5000)), read: .milliseconds(milliseconds))
        )
        configuration.decompression = .disabled
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Closes the client's connections.
    public func shutdown() async {
        try? await http.shutdown()
    }

    /// GETs `path` (`/api/v1/nodes/n1`) and decodes the answer.
    public func get<Object: Decodable>(_ path: String, as type: Object.Type = Object.self) async throws(KubernetesError) -> Object {
        let body = try await getBody(path)
        do {
            return try JSONDecoder().decode(Object.self, from: Data(body))
        } catch {
            throw .badResponse(path: path, reason: "\(error)")
        }
    }

    private func getBody(_ path: String) async throws(KubernetesError) -> [UInt8] {
        let token: String
        do {
            token = try FileText.read(config.tokenFile).trimmingWhitespace()
        } catch {
            throw .notConfigured("cannot read the token in \(config.tokenFile): \(error)")
        }
        var request = HTTPClientRequest(url: config.server + path)
        request.method = .GET
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "rbdcsi")
        let status: HTTPResponseStatus
        let body: [UInt8]
        do {
            let response = try await http.execute(request, timeout: .nanoseconds(limit.nanoseconds))
            status = response.status
            body = Array(buffer: try await response.body.collect(upTo: maxResponseBytes))
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            throw .timedOut(path: path, limit: limit)
        } catch let error as NIOTooManyBytesError {
            throw .badResponse(path: path, reason: "larger than \(maxResponseBytes) bytes (\(error))")
        } catch {
            throw .transport(path: path, reason: "\(error)")
        }
        guard status == .ok else {
            let message = (try? JSONDecoder().decode(StatusBody.self, from: Data(body)))?.message
                ?? String(decoding: body.prefix(512), as: UTF8.self)
            switch status.code {
            case 401: throw .unauthorized(path: path, message: message)
            case 403: throw .forbidden(path: path, message: message)
            case 404: throw .notFound(path: path)
            default: throw .failed(path: path, status: Int(status.code), message: message)
            }
        }
        return body
    }
}

extension Duration {
    fileprivate var nanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }
}
