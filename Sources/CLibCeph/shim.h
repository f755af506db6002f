// librados and librbd from Debian's librados-dev and librbd-dev (no pkg-config files). Not
// linked: CCephLoader defines the functions CephAccess calls and loads the libraries on first
// use (scripts/generate-ceph-trampolines).
#include <rados/librados.h>
#include <rbd/librbd.h>
