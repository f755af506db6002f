#ifndef RBDCSI_CEPH_LOADER_PRIVATE_H
#define RBDCSI_CEPH_LOADER_PRIVATE_H

#include <rados/librados.h>
#include <rbd/librbd.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The address of `name` in librados or librbd, looked up once and kept in `slot`.
void *rbdcsi_ceph_symbol(void **slot, const char *name);

/// The address of `name` in librados or librbd, or NULL when the installed library lacks it
/// (looked up again on the next call then).
void *rbdcsi_ceph_optional_symbol(void **slot, const char *name);

/// `name` of the loaded library, typed as the header declares it (the compiler checks each
/// trampoline's prototype against that declaration).
#define RBDCSI_CEPH_FUNCTION(name) \
    ({ static void *slot_; (__typeof__(&name))rbdcsi_ceph_symbol(&slot_, #name); })

#ifdef __cplusplus
}
#endif

#endif
