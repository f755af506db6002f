#define _GNU_SOURCE
#include "CSystemShims.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

int rbdcsi_pidfd_open(pid_t pid) {
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* Closes every descriptor from `first` up: close_range (Linux 5.9+), else one close per
 * descriptor up to the soft limit on open files (older kernels answer ENOSYS). Both are
 * async-signal-safe. */
static int close_from(int first) {
    if (syscall(SYS_close_range, (unsigned)first, ~0U, 0) == 0) return 0;
    if (errno != ENOSYS && errno != EINVAL) return -1;
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return -1;
    rlim_t last = limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur > 1048576 ? 1048576 : limit.rlim_cur;
    for (rlim_t fd = (rlim_t)first; fd < last; fd++) (void)close((int)fd);
    return 0;
}

/* The child's half of rbdcsi_spawn, between vfork and exec. Only async-signal-safe calls:
 * the parent's memory is shared until exec, and its other threads may hold any lock. */
static void child_exec(const char *path, char *const argv[], char *const envp[], int stdin_fd,
                       int stdout_fd, int stderr_fd, int secret_fd, pid_t parent,
                       volatile int *child_errno) {
    struct sigaction dfl;
    sigset_t none;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) (void)sigaction(sig, &dfl, NULL);
    /* Dies with the plugin: a child left running after the plugin is killed could race the
     * retried call for the same device (two mkfs on one image). */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) goto fail;
    if (setpgid(0, 0) != 0) goto fail;
    /* A descriptor in 0..3 would be overwritten by the dup2s below before it is copied. */
    if (secret_fd >= 0 && secret_fd <= 3) {
        int moved = fcntl(secret_fd, F_DUPFD, 10);
        if (moved < 0) goto fail;
        secret_fd = moved;
    }
    if (dup2(stdin_fd, 0) < 0 || dup2(stdout_fd, 1) < 0 || dup2(stderr_fd, 2) < 0) goto fail;
    if (secret_fd >= 0) {
        if (dup2(secret_fd, 3) < 0) goto fail;
        if (close_from(4) != 0) goto fail;
    } else if (close_from(3) != 0) {
        goto fail;
    }
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(path, argv, envp);
fail:
    *child_errno = errno ? errno : EINVAL;
    _exit(127);
}

int rbdcsi_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[],
                 int stdin_fd, int stdout_fd, int stderr_fd, int secret_fd) {
    sigset_t all, old;
    volatile int child_errno = 0;
    pid_t parent = getpid();
    /* No signal handler of the parent may run in the vforked child, which shares its memory. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t child = vfork();
    if (child == 0) {
        child_exec(path, argv, envp, stdin_fd, stdout_fd, stderr_fd, secret_fd, parent, &child_errno);
    }
    int saved = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (child < 0) return saved;
    if (child_errno != 0) {
        int status;
        while (waitpid(child, &status, 0) < 0 && errno == EINTR) {}
        return child_errno;
    }
    *pid = child;
    return 0;
}

int rbdcsi_secret_fd(const unsigned char *bytes, size_t count) {
    int fd = memfd_create("rbdcsi-secret", MFD_CLOEXEC);
    if (fd < 0) return -1;
    size_t done = 0;
    while (done < count) {
        ssize_t n = write(fd, bytes + done, count - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            int saved = errno;
            close(fd);
            errno = saved;
            return -1;
        }
        done += (size_t)n;
    }
    return fd;
}

int rbdcsi_try_lock(int fd) {
    return flock(fd, LOCK_EX | LOCK_NB);
}

int rbdcsi_pipe_cloexec(int fds[2], int flags) {
    return pipe2(fds, O_CLOEXEC | flags);
}

#include <linux/loop.h>
#include <sys/ioctl.h>

int rbdcsi_loop_file_name(const char *device, char *out, size_t size) {
    struct loop_info64 info;
    int fd = open(device, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return -1;
    int rc;
    do { rc = ioctl(fd, LOOP_GET_STATUS64, &info); } while (rc < 0 && errno == EINTR);
    int saved = errno;
    close(fd);
    if (rc < 0) { errno = saved; return -1; }
    size_t n = 0;
    while (n + 1 < size && n < LO_NAME_SIZE && info.lo_file_name[n] != 0) { out[n] = (char)info.lo_file_name[n]; n++; }
    out[n] = 0;
    return 0;
}

#include <pthread.h>

int rbdcsi_open_direct_read(const char *path) {
    return open(path, O_RDONLY | O_DIRECT | O_CLOEXEC | O_NONBLOCK);
}

void rbdcsi_name_thread(const char *name) {
    char short_name[16];
    strncpy(short_name, name, sizeof short_name - 1);
    short_name[sizeof short_name - 1] = 0;
    (void)pthread_setname_np(pthread_self(), short_name);
}
