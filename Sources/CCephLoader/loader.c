#include "CCephLoader.h"
#include "loader.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static void *rados_library;
static void *rbd_library;
static char failure[512];

static void load(void) {
    // RTLD_LOCAL: the libraries' symbols stay behind their handles; the trampolines of the
    // same names in this process are the only global ones.
    rados_library = dlopen("librados.so.2", RTLD_NOW | RTLD_LOCAL);
    if (rados_library == NULL) {
        snprintf(failure, sizeof failure, "cannot load librados: %s", dlerror());
        return;
    }
    rbd_library = dlopen("librbd.so.1", RTLD_NOW | RTLD_LOCAL);
    if (rbd_library == NULL) snprintf(failure, sizeof failure, "cannot load librbd: %s", dlerror());
}

int rbdcsi_ceph_load(char *error, size_t length) {
    pthread_once(&once, load);
    if (rados_library != NULL && rbd_library != NULL) return 0;
    if (length > 0) snprintf(error, length, "%s", failure);
    return -1;
}

void *rbdcsi_ceph_optional_symbol(void **slot, const char *name) {
    void *function = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (function != NULL) return function;
    char error[512];
    if (rbdcsi_ceph_load(error, sizeof error) != 0) {
        // A programming error: CephAccess loads the libraries before its first call.
        fprintf(stderr, "rbdcsi: %s called without librados/librbd: %s\n", name, error);
        abort();
    }
    function = dlsym(strncmp(name, "rbd_", 4) == 0 ? rbd_library : rados_library, name);
    if (function != NULL) __atomic_store_n(slot, function, __ATOMIC_RELEASE);
    return function;
}

void *rbdcsi_ceph_symbol(void **slot, const char *name) {
    void *function = rbdcsi_ceph_optional_symbol(slot, name);
    if (function == NULL) {
        fprintf(stderr, "rbdcsi: %s is not in the installed librados/librbd: %s\n", name, dlerror());
        abort();
    }
    return function;
}
