#ifndef CSYSTEMSHIMS_H
#define CSYSTEMSHIMS_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <pthread.h>

/// Opens a pidfd for `pid` (Linux >= 5.3). Returns -1 with errno set on failure.
int rbdcsi_pidfd_open(pid_t pid);

/// Spawns the program at `path` (already searched in PATH) with `argv` and `envp`:
/// stdin/stdout/stderr set to the given descriptors; `secret_fd`, unless -1, as descriptor 3
/// (read by the child as /dev/fd/3); every other descriptor closed; default signal
/// dispositions and an empty signal mask; in a new process group whose id is the child's pid;
/// and with SIGKILL as parent-death signal, so the child dies with the spawning thread's
/// process. Returns 0 or an errno value (the exec failure's included).
int rbdcsi_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[],
                 int stdin_fd, int stdout_fd, int stderr_fd, int secret_fd);

/// An anonymous memory file (memfd, close-on-exec) holding `bytes`: a secret handed to a
/// child as a file that never touches a disk. Returns the descriptor, or -1 with errno set.
int rbdcsi_secret_fd(const unsigned char *bytes, size_t count);

/// flock(fd, LOCK_EX | LOCK_NB): 0 when the lock was taken, -1 with errno set otherwise.
int rbdcsi_try_lock(int fd);

/// pipe2(fds, O_CLOEXEC | flags): a pipe whose ends are not inherited by children.
int rbdcsi_pipe_cloexec(int fds[2], int flags);

/// The backing file name a loop device was set up with (LOOP_GET_STATUS64's lo_file_name, at
/// most 63 bytes): unlike sysfs's backing_file it does not change when the file's mount is
/// lazily unmounted. 0, or -1 with errno set (ENXIO: the device is not set up).
int rbdcsi_loop_file_name(const char *device, char *out, size_t size);

/// open(path, O_RDONLY | O_DIRECT | O_CLOEXEC | O_NONBLOCK): reads that bypass the page cache.
int rbdcsi_open_direct_read(const char *path);

/// Names the calling thread (at most 15 bytes are kept), for ps and perf.
void rbdcsi_name_thread(const char *name);

#endif
