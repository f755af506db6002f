import CSIProtocol
import CephAccess
import HostOperations
import Logging

/// NodeStageVolume and NodeUnstageVolume: map the image, format it if new, mount it at
/// `S/<volID>`; and undo all of it. A stage that fails half-way is undone before it returns.
struct VolumeStager {
    let host: NodeHost
    let logger: Logger

    private var encryptor: VolumeEncryptor { VolumeEncryptor(host: host, logger: logger) }

    /// What one stage call did itself: its undo reverses exactly these steps and nothing it
    /// found done (a mapping or LUKS layer of an earlier stage is left to unstage).
    private struct Steps {
        var reusedMapping = false
        var mapped = false
        var openedLUKS = false
        var createdTarget = false
        var mounted = false
    }

    func stage(_ parameters: StageParameters) async throws {
        let target = parameters.target
        if let mount = try host.mountTable.mount(at: target) {
            guard await host.devices.isPluginMount(mount) else {
                throw CSIError.failedPrecondition("\(target) is already a mount of \(mount.source), not a volume of this plugin")
            }
            logger.debug("already staged", metadata: ["volume": "\(parameters.volumeID)", "path": "\(target)"])
            return
        }
        switch HostPaths.kind(of: target) {
        case .missing, .directory, .regularFile: break
        default: throw CSIError.failedPrecondition("\(target) is a symbolic link or special file; refusing to stage there")
        }
        let (spec, access, journal) = try await locateImage(parameters)
        if let namespace = access.netNamespace, !HostPaths.exists(namespace) {
            throw CSIError.failedPrecondition("netNamespaceFilePath \(namespace) of cluster \(parameters.clusterID) does not exist on this node")
        }
        // A provisioned volume's encryption is what its controller wrote in the journal, as
        // ceph-csi's node reads it; the volume context may lack it (a statically re-created PV).
        var parameters = parameters
        if let kmsID = journal?.kmsID {
            try EncryptionKMS.requireBlockEncryption(journal?.encryptionType ?? "block", of: "volume \(parameters.volumeID)")
            parameters.encrypted = true
            parameters.encryptionKMSID = kmsID == "default" ? "" : kmsID
        }
        let existingStash = try ImageMetadataStash.read(from: parameters.stagingPath)
        if let existingStash, !(existingStash.mayBelong(to: parameters.volumeID) && existingStash.spec == spec) {
            throw CSIError.failedPrecondition(
                "staging path \(parameters.stagingPath) holds the stash of another volume (image \(existingStash.spec)); each volume needs its own staging path"
            )
        }
        // Read for the krbd feature check, and reused as the in-use wait's first look.
        var status: ImageStatus?
        if parameters.mapper == .krbd {
            (parameters.mapper, status) = try await kernelOrOtherMapper(spec, access: access, parameters: parameters, stash: existingStash)
        }
        let mapper = try host.mapper(parameters.mapper)
        // Looked up once: for krbd and rbd-nbd it is a child process.
        let existingDevice = try await mapper.mappedDevice(of: spec)
        if let existingDevice {
            // Only the leftover of an earlier stage of this volume at this staging path (its
            // stash is here: the stash is written before the map) may be taken over.
            if let elsewhere = try mountPoints(of: existingDevice, volumeID: parameters.volumeID).first {
                throw CSIError.failedPrecondition("volume \(parameters.volumeID) is already staged on this node at \(elsewhere) (device \(existingDevice)); unstage it there first")
            }
            guard existingStash != nil else {
                throw CSIError.failedPrecondition("image \(spec) is already mapped on this node at \(existingDevice), but not by a stage at \(parameters.stagingPath); unstage it where it was staged first")
            }
        } else {
            try await waitUntilUnused(spec, access: access, parameters: parameters, firstLook: status)
        }

        let kms = parameters.encrypted
            ? try await EncryptionKMS.resolve(
                kmsID: parameters.encryptionKMSID, secrets: parameters.secrets, config: host.kmsConfig, tenant: journal?.owner ?? ""
            ) : nil

        // The stash goes first, so that unstage can undo a stage that dies half-way.
        var stash = ImageMetadataStash(
            spec: spec, mapper: parameters.mapper, unmapOptions: parameters.unmapOptions.options(for: parameters.mapper).joined(separator: ",")
        )
        stash.encrypted = parameters.encrypted
        stash.volumeID = parameters.volumeID
        // As ceph-csi writes them: where rbd-nbd logs, and what unstage does with the log.
        stash.logDir = parameters.cephLogDir
        stash.logFileStrategy = parameters.cephLogStrategy
        try await stash.store(in: parameters.stagingPath)
        var steps = Steps(reusedMapping: existingDevice != nil)
        do {
            var device: String
            if let existingDevice {
                device = existingDevice
            } else {
                let request = MapRequest(
                    spec: spec, monitors: access.monitorList, userID: parameters.credentials.userID,
                    key: parameters.credentials.key, readOnly: parameters.capability.accessMode.mode == .multiNodeReaderOnly,
                    options: mapOptions(parameters, access: access), volumeID: parameters.volumeID,
                    logFile: parameters.mapper == .nbd ? CephLogFile.path(volumeID: parameters.volumeID, directory: parameters.cephLogDir) : nil,
                    netNamespace: access.netNamespace
                )
                // Nothing was mapped before (checked above): a map that fails half-way (killed by
                // its timeout after the kernel made the device) is this call's to undo too.
                steps.mapped = true
                device = try await mapper.map(request)
                if parameters.mapper == .nbd {
                    // ceph-csi records the rbd-nbd device in the stash (its healer needs it).
                    stash.device = device
                    try await stash.store(in: parameters.stagingPath)
                }
            }
            logger.debug("mapped", metadata: ["volume": "\(parameters.volumeID)", "device": "\(device)"])
            if let kms {
                let wasOpen = host.luks.isOpen(name: VolumeEncryptor.mapperName(volumeID: parameters.volumeID))
                device = try await encryptor.open(
                    device: device, spec: spec, access: access, kms: kms, volumeID: parameters.volumeID,
                    mayFormat: !parameters.capability.isReadOnly && (!parameters.staticVolume || parameters.formatStaticVolume)
                )
                steps.openedLUKS = !wasOpen
            }
            steps.createdTarget = !HostPaths.exists(target)
            if parameters.capability.isBlock {
                try HostPaths.makeFile(target)
                let options = appendingUnique(["_netdev", "bind"], parameters.capability.uniqueMountFlags)
                try await host.mounter.mount(source: device, target: target, fsType: nil, options: options)
                steps.mounted = true
            } else {
                try HostPaths.makeDirectory(target)
                guard HostPaths.isEmpty(target) else {
                    throw CSIError.failedPrecondition("\(target) is a directory that is not empty; refusing to mount a volume over it")
                }
                try await mountFilesystem(device: device, parameters: parameters)
                steps.mounted = true
                if !parameters.capability.isReadOnly { try HostPaths.chmod(target, 0o777) }
            }
            // A health answer kept for this device name is another mapping's.
            host.health.forget(device)
        } catch {
            await undo(parameters: parameters, spec: spec, mapper: mapper, steps: steps)
            throw error
        }
    }

    /// The mapper's options from the volume context, and for krbd the read affinity of the
    /// volume's cluster appended (as ceph-csi appends it).
    private func mapOptions(_ parameters: StageParameters, access: ClusterAccess) -> [String] {
        let options = parameters.mapOptions.options(for: parameters.mapper)
        guard parameters.mapper == .krbd else { return options }
        return options + host.readAffinity.mapOptions(for: access.readAffinity)
    }

    /// What a reattach found and did.
    enum ReattachOutcome: Equatable {
        /// A new rbd-nbd daemon serves `device` again.
        case reattached(device: String)
        /// A daemon already serves the image (on `device`): nothing to do.
        case alreadyServing(device: String)
        /// The volume staged at the path is not an rbd-nbd volume: nothing to heal.
        case notNBD(mapper: MapperKind)
        /// Nothing is staged at the path (no stash): nothing to heal.
        case nothingStaged
    }

    /// Heals an rbd-nbd volume staged at `parameters.stagingPath` whose daemon died with an
    /// earlier plugin: a new daemon is attached to the device the stash names, under the
    /// mounts the pods use. Nothing is mounted, unmounted or unmapped; a stash of another
    /// volume or image, or one naming no nbd device, is refused.
    func reattach(_ parameters: StageParameters) async throws -> ReattachOutcome {
        guard let stash = try ImageMetadataStash.read(from: parameters.stagingPath) else { return .nothingStaged }
        guard stash.mayBelong(to: parameters.volumeID) else {
            throw CSIError.failedPrecondition("the stash at \(parameters.stagingPath) belongs to another volume, not \(parameters.volumeID)")
        }
        guard stash.mapper == .nbd else { return .notNBD(mapper: stash.mapper) }
        let number = stash.device.dropFirst("/dev/nbd".count)
        guard stash.device.hasPrefix("/dev/nbd"), !number.isEmpty, number.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw CSIError.failedPrecondition("the stash at \(parameters.stagingPath) names no rbd-nbd device (\(stash.device.isEmpty ? "none" : stash.device))")
        }
        let (spec, access, _) = try await locateImage(parameters)
        guard spec == stash.spec else {
            throw CSIError.failedPrecondition("the stash at \(parameters.stagingPath) is of image \(stash.spec), volume \(parameters.volumeID) is image \(spec)")
        }
        let mapper = try host.mapper(.nbd)
        // list-mapped shows only devices whose daemon is alive.
        if let serving = try await mapper.mappedDevice(of: spec) { return .alreadyServing(device: serving) }
        guard let nbd = mapper as? any ImageReattaching else { throw CSIError.internalError("the rbd-nbd mapper cannot reattach") }
        let logDirectory = stash.logDir.isEmpty ? parameters.cephLogDir : stash.logDir
        let request = MapRequest(
            spec: spec, monitors: access.monitorList, userID: parameters.credentials.userID, key: parameters.credentials.key,
            readOnly: parameters.capability.accessMode.mode == .multiNodeReaderOnly, options: parameters.mapOptions.options(for: .nbd),
            volumeID: parameters.volumeID, logFile: CephLogFile.path(volumeID: parameters.volumeID, directory: logDirectory),
            netNamespace: access.netNamespace
        )
        try await nbd.reattach(request, device: stash.device)
        return .reattached(device: stash.device)
    }

    /// Where the device (or the LUKS layer over it) of volume `volumeID` is mounted.
    private func mountPoints(of device: String, volumeID: String) throws -> [String] {
        var devices: Set<String> = [device, "/dev/mapper/" + VolumeEncryptor.mapperName(volumeID: volumeID)]
        if let holder = LUKSHolders.dmDevice(over: device) { devices.insert(holder) }
        return try host.mountTable.entries().filter { devices.contains(PluginDevices.device(of: $0)) }.map(\.mountPoint)
    }

    /// ceph-csi's krbd check: an image whose features the kernel's rbd driver lacks is mapped
    /// with rbd-nbd when the context says `tryOtherMounters=true`, and refused otherwise
    /// (FAILED_PRECONDITION naming the features; ceph-csi: INTERNAL "unsupported krbd
    /// Feature"). A leftover stash of this volume keeps the mapper it recorded. Without the
    /// driver's feature list (module not loaded) the map itself decides.
    private func kernelOrOtherMapper(
        _ spec: ImageSpec, access: ClusterAccess, parameters: StageParameters, stash: ImageMetadataStash?
    ) async throws -> (MapperKind, ImageStatus?) {
        if let stash, stash.mapper != .krbd { return (stash.mapper, nil) }
        guard let supported = host.krbdFeatures.supported() else { return (.krbd, nil) }
        let status = try await host.metadata.imageStatus(spec, access: access)
        let missing = KernelRBDFeatures.unsupported(status.features, by: supported)
        guard !missing.isEmpty else { return (.krbd, status) }
        guard parameters.tryOtherMounters else {
            throw CSIError.failedPrecondition("image \(spec) has features the kernel's rbd driver cannot map (\(missing.joined(separator: ", "))); set tryOtherMounters=true to map it with rbd-nbd, or mounter rbd-nbd")
        }
        logger.info("krbd lacks image features; mapping with rbd-nbd (tryOtherMounters)", metadata: [
            "volume": "\(parameters.volumeID)", "features": "\(missing.joined(separator: ","))",
        ])
        return (.nbd, status)
    }

    /// Which image the volume is, how to reach its cluster, and its journal entry (the
    /// encryption it records, KMS id and type, and its owner namespace; none for a static volume). A static volume's image is named by the volume id (a
    /// migrated in-tree volume's by the context's `imageName`), in the context's pool; any
    /// other id is decoded and its journal entry read (NOT_FOUND when either fails).
    private func locateImage(_ parameters: StageParameters) async throws -> (ImageSpec, ClusterAccess, JournalEntry?) {
        guard !parameters.staticVolume else {
            let cluster = try host.clusters.cluster(parameters.clusterID)
            let access = await ClusterAccess.resolving(cluster, credentials: parameters.credentials)
            return (ImageSpec(pool: parameters.pool, radosNamespace: cluster.rbd?.radosNamespace ?? "", image: parameters.staticImageName), access, nil)
        }
        let id: CSIVolumeID
        do {
            id = try CSIVolumeID(decoding: parameters.volumeID)
        } catch {
            throw CSIError.notFound("\(error.description); stage a pre-provisioned image with volume context staticVolume=true")
        }
        if id.clusterID != parameters.clusterID {
            logger.warning("the volume id names another clusterID than the volume context; using the volume id's", metadata: [
                "volume": "\(parameters.volumeID)", "idClusterID": "\(id.clusterID)", "contextClusterID": "\(parameters.clusterID)",
            ])
        }
        let cluster = try host.clusters.cluster(id.clusterID)
        let access = await ClusterAccess.resolving(cluster, credentials: parameters.credentials)
        let entry = try await host.metadata.journalEntry(of: id, volumeID: parameters.volumeID, radosNamespace: cluster.rbd?.radosNamespace ?? "", access: access)
        logger.debug("journal entry", metadata: ["volume": "\(parameters.volumeID)", "image": "\(entry.spec)", "request": "\(entry.requestName)"])
        return (entry.spec, access, entry)
    }

    /// Waits, with ceph-csi's backoff, while other clients watch the image (it is mapped
    /// elsewhere); FAILED_PRECONDITION naming them when they stay. A missing image is NOT_FOUND
    /// here, before anything is written. Multi-node access modes share images by design and
    /// skip the wait. `firstLook`, a status just read (by the krbd check), stands for the
    /// first read.
    private func waitUntilUnused(_ spec: ImageSpec, access: ClusterAccess, parameters: StageParameters, firstLook: ImageStatus?) async throws {
        var watchers: [String]
        if let firstLook { watchers = firstLook.watchers } else { watchers = try await host.metadata.imageWatchers(spec, access: access) }
        guard !watchers.isEmpty, !parameters.capability.isMultiNode else { return }
        for delay in host.inUseWait.delays {
            logger.info("image is in use by other clients; waiting", metadata: [
                "volume": "\(parameters.volumeID)", "image": "\(spec)", "watchers": "\(watchers.joined(separator: ","))", "delay": "\(delay)",
            ])
            try await Task.sleep(for: delay)
            watchers = try await host.metadata.imageWatchers(spec, access: access)
            if watchers.isEmpty { return }
        }
        throw CSIError.failedPrecondition("rbd image \(spec) is still being used by \(watchers.joined(separator: ", ")); unmap it on the other node first")
    }

    /// Formats a blank device (never one that holds anything), checks an existing filesystem,
    /// and mounts it with ceph-csi's options.
    private func mountFilesystem(device: String, parameters: StageParameters) async throws {
        let fsType = parameters.fsType
        let readOnly = parameters.capability.isReadOnly
        var growMounted = false
        switch try await host.probe.contentType(of: device) {
        case nil:
            guard !readOnly else {
                throw CSIError.failedPrecondition("device \(device) of volume \(parameters.volumeID) has no filesystem and the volume is read-only")
            }
            guard !parameters.staticVolume || parameters.formatStaticVolume else {
                throw CSIError.failedPrecondition("device \(device) of static volume \(parameters.volumeID) has no filesystem and its volume context says formatStaticVolume=false")
            }
            logger.info("formatting", metadata: ["volume": "\(parameters.volumeID)", "device": "\(device)", "fsType": "\(fsType)"])
            try await host.formatter.format(device: device, fsType: fsType, options: parameters.mkfsOptions)
        case let existing? where existing != fsType:
            throw CSIError.failedPrecondition("device \(device) of volume \(parameters.volumeID) holds \(existing), not the requested \(fsType); refusing to reformat it")
        case _?:
            if !readOnly {
                try await host.checker.check(device: device, fsType: fsType)
                growMounted = try await growIfSmaller(device: device, parameters: parameters)
            }
        }
        var options = appendingUnique(["_netdev"], parameters.capability.uniqueMountFlags)
        if fsType == "xfs" { options = appendingUnique(options, ["nouuid"]) }
        if readOnly { options = appendingUnique(options, ["ro"]) }
        try await host.mounter.mount(source: device, target: parameters.target, fsType: fsType, options: options)
        if growMounted {
            try await host.resizer.grow(device: device, mountPoint: parameters.target, fsType: fsType)
        }
    }

    /// Grow on stage: when the image grew (a clone or restore to a larger size, or a resize
    /// while unstaged), the filesystem is grown to the device: ext* here, unmounted; others
    /// after the mount (the returned true).
    private func growIfSmaller(device: String, parameters: StageParameters) async throws -> Bool {
        let sizes = try host.probe.sizes(of: device)
        guard let filesystem = sizes.filesystem, filesystem.isSmaller(thanDevice: sizes.device) else { return false }
        logger.info("growing the filesystem to the device", metadata: [
            "volume": "\(parameters.volumeID)", "device": "\(device)",
            "filesystemBytes": "\(filesystem.sizeBytes)", "deviceBytes": "\(sizes.device)",
        ])
        return try await !host.resizer.growUnmounted(device: device, fsType: parameters.fsType)
    }

    /// Takes back what a failed stage did (never what it found done): unmount, remove the
    /// staging mount point it made, close the LUKS layer it opened, unmap what it mapped, and
    /// delete the stash when nothing it describes is left mapped.
    private func undo(parameters: StageParameters, spec: ImageSpec, mapper: any ImageMapping, steps: Steps) async {
        let volume: Logger.MetadataValue = "\(parameters.volumeID)"
        if steps.mounted {
            do { try await host.mounter.unmount(parameters.target) } catch {
                logger.error("undo: unmount failed", metadata: ["volume": volume, "error": "\(error)"])
            }
        }
        if steps.createdTarget { _ = try? HostPaths.removeIfEmpty(parameters.target) }
        do {
            if steps.openedLUKS { try await encryptor.close(volumeID: parameters.volumeID) }
            if steps.mapped { try await mapper.unmap(spec, options: parameters.unmapOptions.options(for: parameters.mapper)) }
            // A stash found here describes a mapping this call reused: unstage still needs it.
            if !steps.reusedMapping { try ImageMetadataStash.remove(from: parameters.stagingPath) }
        } catch {
            // The stash stays: a later unstage retries the unmap from it.
            logger.error("undo: unmap failed; the stash is kept for unstage", metadata: ["volume": volume, "error": "\(error)"])
        }
    }

    func unstage(volumeID: String, stagingPath: String) async throws {
        let target = "\(stagingPath)/\(volumeID)"
        var mounted = false
        if let mount = try host.mountTable.mount(at: target) {
            guard await host.devices.isPluginMount(mount) else {
                throw CSIError.failedPrecondition("\(target) is a mount of \(mount.source), not a volume of this plugin; not touching it")
            }
            try await host.mounter.unmount(target)
            host.health.forget(PluginDevices.device(of: mount))
            mounted = true
        }
        do {
            if case .keptHoldingData(let reason) = try HostPaths.removeIfEmpty(target) {
                throw CSIError.failedPrecondition("\(reason); it is not a staging mount point of this plugin and was left in place")
            }
        } catch let error as HostError {
            throw CSIError.internalError("failed to remove staging target path \(target): \(error)")
        }
        guard let stash = try ImageMetadataStash.read(from: stagingPath) else {
            if mounted {
                throw CSIError.internalError("image metadata stash missing in \(stagingPath) although \(target) was mounted")
            }
            return
        }
        guard stash.mayBelong(to: volumeID) else {
            logger.warning("the stash in the staging path belongs to another volume; left alone", metadata: [
                "volume": "\(volumeID)", "stashVolume": "\(stash.volumeID ?? "")", "path": "\(stagingPath)",
            ])
            return
        }
        let mapper = try host.mapper(stash.mapper)
        // Never unmap a device that is still mounted (the image staged elsewhere on this node):
        // detaching a loop device under a live mount succeeds and loses the writes.
        if let device = try await mapper.mappedDevice(of: stash.spec),
           let elsewhere = try mountPoints(of: device, volumeID: volumeID).first {
            throw CSIError.failedPrecondition("image \(stash.spec) is still mounted at \(elsewhere); not unmapping it")
        }
        if stash.encrypted { try await encryptor.close(volumeID: volumeID) }
        try await mapper.unmap(stash.spec, options: stash.mapperUnmapOptions)
        if !stash.logDir.isEmpty {
            // ceph-csi's rule: only a stash that names the log directory has a log to handle;
            // a log that cannot be handled never fails the unstage.
            do {
                if let done = try await mapper.finishLog(volumeID: volumeID, directory: stash.logDir, strategy: stash.logFileStrategy) {
                    logger.debug("client log", metadata: ["volume": "\(volumeID)", "action": "\(done)"])
                }
            } catch {
                logger.warning("client log not handled", metadata: ["volume": "\(volumeID)", "error": "\(error)"])
            }
        }
        try ImageMetadataStash.remove(from: stagingPath)
    }
}
