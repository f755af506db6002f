#ifndef CCEPHLOADER_H
#define CCEPHLOADER_H

#include <stddef.h>

/// Opens librados and librbd, once for the process: the plugin loads them on its first Ceph
/// call instead of at start, so an idle node does not carry them (about 15 MiB). Returns 0, or
/// -1 with the dynamic linker's message in `error`. The librados/librbd functions CephAccess
/// calls are defined in this target with the libraries' prototypes and call through to them;
/// they must not be called before this has returned 0.
int rbdcsi_ceph_load(char *error, size_t length);

#endif
