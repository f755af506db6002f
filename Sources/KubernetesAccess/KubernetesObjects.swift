#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

// The parts of Kubernetes objects the plugin reads, as the API serves them (JSON). Unknown
// fields are ignored; missing optional ones are nil.

/// `metadata` of any object.
public struct ObjectMeta: Decodable, Sendable, Hashable {
    public var name: String?
    public var namespace: String?
    public var labels: [String: String]?
    public var deletionTimestamp: String?
}

/// A core/v1 Node (its labels carry topology and CRUSH locations).
public struct Node: Decodable, Sendable {
    public var metadata: ObjectMeta
}

/// A core/v1 ConfigMap.
public struct ConfigMap: Decodable, Sendable {
    public var metadata: ObjectMeta
    public var data: [String: String]?
}

/// A core/v1 Secret, its values decoded from base64.
public struct Secret: Decodable, Sendable {
    public var metadata: ObjectMeta
    public var data: [String: String]

    enum CodingKeys: String, CodingKey { case metadata, data }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        metadata = try container.decode(ObjectMeta.self, forKey: .metadata)
        let encoded = try container.decodeIfPresent([String: String].self, forKey: .data) ?? [:]
        var data: [String: String] = [:]
        for (key, value) in encoded {
            guard let bytes = Data(base64Encoded: value) else {
                throw DecodingError.dataCorruptedError(forKey: .data, in: container, debugDescription: "value of \(key) is not base64")
            }
            data[key] = String(decoding: bytes, as: UTF8.self)
        }
        self.data = data
    }
}

/// A reference to a Secret (`nodeStageSecretRef`).
public struct SecretReference: Decodable, Sendable, Hashable {
    public var name: String
    public var namespace: String
}

/// A core/v1 PersistentVolume: the CSI source and what a stage needs of the spec.
public struct PersistentVolume: Decodable, Sendable {
    public struct CSISource: Decodable, Sendable {
        public var driver: String
        public var volumeHandle: String
        public var fsType: String?
        public var volumeAttributes: [String: String]?
        public var nodeStageSecretRef: SecretReference?
    }

    public struct Spec: Decodable, Sendable {
        public var csi: CSISource?
        public var accessModes: [String]?
        public var mountOptions: [String]?
        /// `Filesystem` (the default) or `Block`.
        public var volumeMode: String?
    }

    public struct Status: Decodable, Sendable {
        public var phase: String?
    }

    public var metadata: ObjectMeta
    public var spec: Spec
    public var status: Status?
}

/// A storage.k8s.io/v1 VolumeAttachment.
public struct VolumeAttachment: Decodable, Sendable {
    public struct Source: Decodable, Sendable {
        public var persistentVolumeName: String?
    }

    public struct Spec: Decodable, Sendable {
        public var attacher: String
        public var nodeName: String
        public var source: Source
    }

    public struct Status: Decodable, Sendable {
        public var attached: Bool
    }

    public var metadata: ObjectMeta
    public var spec: Spec
    public var status: Status?
}

/// A list of objects (`items`).
public struct ObjectList<Item: Decodable & Sendable>: Decodable, Sendable {
    public var items: [Item]
}

/// `/version`.
public struct ServerVersion: Decodable, Sendable {
    public var major: String
    public var minor: String

    /// `major * 1000 + minor`, the minor's digits only (`"28+"` on some distributions is 28).
    public var number: Int {
        (Int(major.filter(\.isNumber)) ?? 0) * 1000 + (Int(minor.filter(\.isNumber)) ?? 0)
    }
}

/// A meta/v1 Status, the body of an API error.
struct StatusBody: Decodable {
    var message: String?
}
