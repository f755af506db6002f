// rbdcsi_rados_list_watchers: librados' C++ IoCtx::list_watchers, called through dlsym like
// the C functions (librados is opened on first use). Only the C++ API lists an object's
// watchers without opening an image through librbd.
//
// librados.hpp is not needed: the calls below use the Itanium C++ ABI directly. A non-virtual
// member function is a plain function whose first argument is `this`; `librados::IoCtx` holds
// one pointer (its IoCtxImpl) and has no virtual functions; the `std::string` and `std::list`
// arguments are libstdc++'s (the C++11 ABI, as the mangled names say), the library librados
// itself is built against. The `v14_2_0` inline namespace has named librados' C++ API since
// Nautilus. A librados without these symbols makes the call return -ENOSYS, and the caller
// goes through librbd instead.
#include "CCephLoader.h"
#include "loader.h"

#include <rados/rados_types.h>

#include <cerrno>
#include <cstring>
#include <list>
#include <new>
#include <string>

namespace {

// Room for librados::IoCtx (one pointer), with margin.
struct IoCtxStorage {
    alignas(alignof(void *)) unsigned char bytes[8 * sizeof(void *)];
};

using Constructor = void (*)(IoCtxStorage *);
using Destructor = void (*)(IoCtxStorage *);
using FromCHandle = void (*)(void *, IoCtxStorage *);
using ListWatchers = int (*)(IoCtxStorage *, const std::string *, std::list<obj_watch_t> *);

void *slots[4];

template <typename Function>
Function symbol(int index, const char *name) {
    return reinterpret_cast<Function>(rbdcsi_ceph_optional_symbol(&slots[index], name));
}

}  // namespace

extern "C" int rbdcsi_rados_list_watchers(void *ioctx, const char *object, struct rbdcsi_object_watcher *watchers, size_t *count) {
    auto construct = symbol<Constructor>(0, "_ZN8librados7v14_2_05IoCtxC1Ev");
    auto destroy = symbol<Destructor>(1, "_ZN8librados7v14_2_05IoCtxD1Ev");
    auto fromCHandle = symbol<FromCHandle>(2, "_ZN8librados7v14_2_05IoCtx18from_rados_ioctx_tEPvRS1_");
    auto list = symbol<ListWatchers>(
        3, "_ZN8librados7v14_2_05IoCtx13list_watchersERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEEPNS2_4listI11obj_watch_tSaISB_EEE"
    );
    if (construct == nullptr || destroy == nullptr || fromCHandle == nullptr || list == nullptr) return -ENOSYS;
    // Destroys the IoCtx however the call ends (its destructor gives back the reference that
    // from_rados_ioctx_t took on the C handle's IoCtxImpl).
    struct Context {
        IoCtxStorage storage;
        Destructor destroy;
        ~Context() { destroy(&storage); }
    };
    try {
        std::list<obj_watch_t> found;
        const std::string name(object);
        Context context{{}, destroy};
        construct(&context.storage);
        fromCHandle(ioctx, &context.storage);
        int result = list(&context.storage, &name, &found);
        if (result < 0) return result;
        size_t capacity = *count;
        *count = found.size();
        if (found.size() > capacity) return -ERANGE;
        size_t index = 0;
        for (const auto &watcher : found) {
            auto &out = watchers[index++];
            std::memset(&out, 0, sizeof out);
            std::strncpy(out.address, watcher.addr, sizeof out.address - 1);
            out.watcher_id = watcher.watcher_id;
            out.cookie = watcher.cookie;
        }
        return 0;
    } catch (const std::bad_alloc &) {
        return -ENOMEM;
    } catch (...) {
        return -EIO;
    }
}
