/// Ceph-side conditions the node reports with their own meaning.
public enum CephAccessError: Error, Sendable, Hashable, CustomStringConvertible {
    case imageNotFound(ImageSpec)
    case unknownCluster(String, configFile: String)
    case badConfig(file: String, reason: String)

    public var description: String {
        switch self {
        case let .imageNotFound(spec): return "rbd image \(spec) does not exist"
        case let .unknownCluster(id, file): return "clusterID \(id) not found in \(file)"
        case let .badConfig(file, reason): return "cluster config \(file) is invalid: \(reason)"
        }
    }
}
