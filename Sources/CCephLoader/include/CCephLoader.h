#ifndef CCEPHLOADER_H
#define CCEPHLOADER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Opens librados and librbd, once for the process: the plugin loads them on its first Ceph
/// call instead of at start, so an idle node does not carry them (about 15 MiB). Returns 0, or
/// -1 with the dynamic linker's message in `error`. The librados/librbd functions CephAccess
/// calls are defined in this target with the libraries' prototypes and call through to them;
/// they must not be called before this has returned 0.
int rbdcsi_ceph_load(char *error, size_t length);

/// One client watching a RADOS object, as librados lists it.
struct rbdcsi_object_watcher {
    /// The client's address, e.g. `127.0.0.1:0/1234567`.
    char address[256];
    int64_t watcher_id;
    uint64_t cookie;
};

/// The clients watching object `object` of the I/O context `ioctx` (a `rados_ioctx_t`), in
/// one round trip: librados' C++ `IoCtx::list_watchers`, which its C API lacks (librbd can
/// list an image's watchers only after opening the image, about ten round trips). Fills at
/// most `*count` entries of `watchers` and sets `*count` to the number of watchers; returns 0,
/// -ERANGE when `watchers` is too short (`*count` is then the number needed), -ENOSYS when
/// the installed librados does not export the call, or librados' negative errno (-ENOENT:
/// no such object). Blocks; librados must be loaded (`rbdcsi_ceph_load`).
int rbdcsi_rados_list_watchers(void *ioctx, const char *object, struct rbdcsi_object_watcher *watchers, size_t *count);

#ifdef __cplusplus
}
#endif

#endif
