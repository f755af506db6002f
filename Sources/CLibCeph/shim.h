// librados and librbd from Debian's librados-dev and librbd-dev (no pkg-config files).
#include <rados/librados.h>
#include <rbd/librbd.h>
