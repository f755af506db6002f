/// How an image becomes a block device on the node: the volume context's `mounter`.
public enum MapperKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// The kernel RBD client (`rbd map --device-type krbd`); ceph-csi's default.
    case krbd = "rbd"
    /// rbd-nbd (`rbd-nbd map`), userspace librbd behind /dev/nbdX.
    case nbd = "rbd-nbd"
    /// rbd-fuse exposing the image as a file, with a loop device over it: for kernels with
    /// neither rbd nor nbd (containers, this project's CI). Not in ceph-csi.
    case fuse = "rbd-fuse"
}
