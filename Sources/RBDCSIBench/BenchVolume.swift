import CSIProtocol

/// One static rbd-fuse volume of the benchmark: its image, staging path and pod target.
struct BenchVolume: Sendable {
    let image: String
    let staging: String
    let target: String
    let setup: BenchSetup

    var stagedPath: String { "\(staging)/\(image)" }

    static let capability = Csi_V1_VolumeCapability.with {
        $0.mount = .with { $0.fsType = "ext4" }
        $0.accessMode = .with { $0.mode = .singleNodeWriter }
    }

    var stage: Csi_V1_NodeStageVolumeRequest {
        .with {
            $0.volumeID = image
            $0.stagingTargetPath = staging
            $0.volumeCapability = Self.capability
            $0.secrets = ["userID": setup.user, "userKey": setup.key]
            $0.volumeContext = [
                "staticVolume": "true", "formatStaticVolume": "true", "pool": setup.pool,
                "clusterID": BenchSetup.clusterID, "mounter": "rbd-fuse",
            ]
        }
    }

    var publish: Csi_V1_NodePublishVolumeRequest {
        .with {
            $0.volumeID = image
            $0.stagingTargetPath = staging
            $0.targetPath = target
            $0.volumeCapability = Self.capability
        }
    }

    var unpublish: Csi_V1_NodeUnpublishVolumeRequest {
        .with { $0.volumeID = image; $0.targetPath = target }
    }

    var unstage: Csi_V1_NodeUnstageVolumeRequest {
        .with { $0.volumeID = image; $0.stagingTargetPath = staging }
    }

    var stats: Csi_V1_NodeGetVolumeStatsRequest {
        .with { $0.volumeID = image; $0.volumePath = stagedPath }
    }
}
