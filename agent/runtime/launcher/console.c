/*
 * The terminal of a process with `terminal: true`. As with runc, it belongs to the container's
 * own devpts (the newinstance mounted at its /dev/pts): a pty of the guest's devpts works for
 * isatty and stty, but ttyname (`tty`) cannot find it under the container's /dev.
 *
 * The master must end up in the agent, and Node cannot receive a descriptor (no SCM_RIGHTS), so
 * the agent opens it itself, through /proc/<child>/root/dev/pts/ptmx, once the child is inside
 * the container's mounts; the child then takes it from the agent with pidfd_getfd:
 *   child "console" (error pipe) → supervisor "console <pid>" (status) → the agent opens the
 *   master, "console <fd>" (control) → supervisor writes <fd> on the console pipe → the child
 *   takes it, unlocks it, opens the slave with TIOCGPTPEER (on the master's devpts mount, no
 *   path lookup) and makes it its controlling terminal and stdio.
 * The agent's pidfd is opened by the `tty` step, before clone3: from inside a new pid namespace
 * the agent has no pid. pidfd_getfd needs CAP_SYS_PTRACE, so `console` runs before the
 * credential steps.
 */
#include "launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

static int agent_pidfd = -1;
static int pipe_r = -1;
static int pipe_w = -1;
static unsigned short rows, cols;

void op_tty(const char *rows_text, const char *cols_text) {
  rows = (unsigned short)parse_ulong(rows_text, 10, "rows");
  cols = (unsigned short)parse_ulong(cols_text, 10, "cols");
  agent_pidfd = (int)syscall(SYS_pidfd_open, getppid(), 0);
  if (agent_pidfd < 0) fail(errno, "open a pidfd of the agent");
  int ends[2];
  if (pipe2(ends, O_CLOEXEC) != 0) fail(errno, "pipe");
  pipe_r = ends[0];
  pipe_w = ends[1];
}

int console_requested(void) {
  return agent_pidfd >= 0;
}

static void close_if_open(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

void console_keep(int in_child) {
  if (in_child) {
    close_if_open(&pipe_w);
    return;
  }
  close_if_open(&pipe_r);
  close_if_open(&agent_pidfd);
}

void console_forward(const char *fd_text) {
  int fd = (int)parse_ulong(fd_text, 10, "console fd");
  if (pipe_w < 0) {
    report("warning %d console line without a waiting terminal", EINVAL);
    return;
  }
  if (write(pipe_w, &fd, sizeof fd) != (ssize_t)sizeof fd)
    report("warning %d pass the console: %s", errno, strerror(errno));
  close_if_open(&pipe_w);
}

static int await_agent_fd(void) {
  int fd;
  ssize_t n;
  do {
    n = read(pipe_r, &fd, sizeof fd);
  } while (n < 0 && errno == EINTR);
  if (n != (ssize_t)sizeof fd) fail(n < 0 ? errno : ECANCELED, "wait for the pty master");
  close_if_open(&pipe_r);
  return fd;
}

/*
 * The master is taken by its number in the agent, which could have been closed and given to
 * another file meanwhile (another container's terminal among them): only a ptmx of the devpts
 * mounted at this container's /dev/pts is used.
 */
static void check_own_master(int master) {
  struct stat taken, pts;
  if (fstat(master, &taken) != 0) fail(errno, "stat the pty master");
  if (stat("/dev/pts", &pts) != 0) fail(errno, "stat /dev/pts");
  if (!S_ISCHR(taken.st_mode) || taken.st_rdev != makedev(5, 2) || taken.st_dev != pts.st_dev)
    fail(EBADF, "the descriptor taken from the agent is not a pty master of this container's /dev/pts");
}

static int open_slave(int master) {
  int unlock = 0;
  if (ioctl(master, TIOCSPTLCK, &unlock) != 0) fail(errno, "unlock the pty");
  int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) fail(errno, "open the pty slave");
  return slave;
}

void op_console(void) {
  report("console");
  int master = (int)syscall(SYS_pidfd_getfd, agent_pidfd, await_agent_fd(), 0);
  if (master < 0) fail(errno, "take the pty master from the agent");
  close_if_open(&agent_pidfd);
  check_own_master(master);
  int slave = open_slave(master);
  close(master);
  if (ioctl(slave, TIOCSCTTY, 0) != 0) fail(errno, "make the pty the controlling terminal");
  if (rows != 0 || cols != 0) {
    struct winsize ws = {.ws_row = rows, .ws_col = cols};
    if (ioctl(slave, TIOCSWINSZ, &ws) != 0) fail(errno, "set the pty size");
  }
  for (int i = 0; i < 3; i++) {
    if (dup2(slave, i) < 0) fail(errno, "dup2 the pty to stdio %d", i);
  }
  close(slave);
}

void op_winsize(const char *fd, const char *rows_text, const char *cols_text) {
  struct winsize ws = {
      .ws_row = (unsigned short)parse_ulong(rows_text, 10, "rows"),
      .ws_col = (unsigned short)parse_ulong(cols_text, 10, "cols"),
  };
  if (ioctl((int)parse_ulong(fd, 10, "fd"), TIOCSWINSZ, &ws) != 0) fail(errno, "resize the pty");
}
