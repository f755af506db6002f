#ifndef CSYSTEMSHIMS_H
#define CSYSTEMSHIMS_H

#include <sys/types.h>

/// Opens a pidfd for `pid` (Linux >= 5.3). Returns -1 with errno set on failure.
int rbdcsi_pidfd_open(pid_t pid);

/// Spawns `argv[0]` (searched in PATH) with `envp`, with stdin/stdout/stderr set to the given
/// descriptors, every other descriptor closed, default signal dispositions and an empty signal
/// mask, in a new process group whose id is the child's pid. Returns 0 or an errno value.
int rbdcsi_spawn(pid_t *pid, char *const argv[], char *const envp[],
                 int stdin_fd, int stdout_fd, int stderr_fd);

/// flock(fd, LOCK_EX | LOCK_NB): 0 when the lock was taken, -1 with errno set otherwise.
int rbdcsi_try_lock(int fd);

/// pipe2(fds, O_CLOEXEC | flags): a pipe whose ends are not inherited by children.
int rbdcsi_pipe_cloexec(int fds[2], int flags);

#endif
