/*
 * clone3 of the container process and its supervision.
 *
 * The launcher (the supervisor) stays the child's parent for its whole life: it turns the
 * child's wait status into one "exit N" line (128+signal for a signal death, as runc reports),
 * forwards "signal N" control lines through a pidfd (no pid-reuse race), and kills the child
 * when the agent goes away (its control descriptor reaches EOF). It sleeps in poll() on the
 * control descriptor, the child's error pipe and the pidfd: no timers, no polling delay.
 *
 * Stdio are real pipes, as runc gives them (a socketpair would break open("/dev/stdin")): the
 * launcher creates them and reports their numbers; the agent opens its ends through
 * /proc/<launcher>/fd/N and acknowledges, and only then does the launcher drop its copies.
 * With a terminal there are no pipes: the child's `console` step attaches it (console.c).
 */
#include "launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#define CLONE_INTO_CGROUP_FLAG 0x200000000ULL

/* struct clone_args of <linux/sched.h>, which clashes with glibc's <sched.h>. */
struct clone_args_v2 {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};

/* Pipe ends held until the agent's "ack" (its own ends, and the child's until it surely has
 * them); -1 once dropped. */
static int held[6] = {-1, -1, -1, -1, -1, -1};
/* Write end of the barrier pipe: one byte on "start" releases a child waiting at `barrier`. */
static int barrier_w = -1;
static int barrier_r = -1;

/*
 * Joins the namespaces of a container's init, as nsenter does with --root:
 *  - setns into a mount namespace lands at that namespace's root mount, which in an initramfs
 *    guest is the initramfs, not the container's root (pivoted onto the stage, see fs_ops.c),
 *    so the launcher then chroots into the init's own root, opened through /proc beforehand;
 *  - the cgroup namespace is joined by the child, after clone3 placed it in the container's
 *    cgroup: from inside that namespace the launcher's cgroup is out of view, and clone3
 *    refuses CLONE_INTO_CGROUP across it (ENOENT).
 */
void op_join(struct launch *launch, const char *pid, const char *flags) {
  pid_t target = (pid_t)parse_ulong(pid, 10, "pid");
  int ns = (int)parse_ulong(flags, 10, "namespace flags");
  int pidfd = (int)syscall(SYS_pidfd_open, target, 0);
  if (pidfd < 0) fail(errno, "open container process %d", target);
  char root_path[64];
  snprintf(root_path, sizeof root_path, "/proc/%d/root", target);
  int root = open(root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) fail(errno, "open the root of %d", target);
  if (setns(pidfd, ns & ~CLONE_NEWCGROUP) != 0) fail(errno, "join the namespaces of %d", target);
  if (fchdir(root) != 0 || chroot(".") != 0) fail(errno, "enter the root of %d", target);
  close(root);
  if (ns & CLONE_NEWCGROUP)
    launch->join_cgroupns_pidfd = pidfd;
  else
    close(pidfd);
}

/*
 * setns into some namespaces of a running process, staying in the launcher's own root: a new
 * container that shares its pod's ipc, uts or pid namespace is cloned from inside them.
 */
void op_setns(const char *pid, const char *flags) {
  pid_t target = (pid_t)parse_ulong(pid, 10, "pid");
  int ns = (int)parse_ulong(flags, 10, "namespace flags");
  int pidfd = (int)syscall(SYS_pidfd_open, target, 0);
  if (pidfd < 0) fail(errno, "open process %d", target);
  if (setns(pidfd, ns) != 0) fail(errno, "join namespaces %#x of %d", (unsigned)ns, target);
  close(pidfd);
}

static void make_pipe(int ends[2]) {
  if (pipe2(ends, O_CLOEXEC) != 0) fail(errno, "pipe");
}

/* Pipes for the child's stdio; child_fds[i] becomes the child's fd i. */
static void create_stdio_pipes(int child_fds[3]) {
  int in[2], out[2], err[2];
  make_pipe(in);
  make_pipe(out);
  make_pipe(err);
  child_fds[0] = in[0];
  child_fds[1] = out[1];
  child_fds[2] = err[1];
  int ends[6] = {in[0], in[1], out[0], out[1], err[0], err[1]};
  memcpy(held, ends, sizeof held);
  report("pipes %d %d %d", in[1], out[0], err[0]);
}

/* A new session, so that a terminal can become its controlling one at the `console` step. */
static void setup_child_stdio(const int child_fds[3]) {
  if (setsid() < 0) fail(errno, "setsid");
  if (console_requested()) return;
  /* dup2 first to high numbers would be needed only if a source were 0..2; they never are. */
  for (int i = 0; i < 3; i++) {
    if (dup2(child_fds[i], i) < 0) fail(errno, "dup2 stdio %d", i);
  }
}

static void enter_child(const struct launch *launch, int child_fds[3], int errpipe_w) {
  report_to(errpipe_w);
  close(CONTROL_FD);
  close(STATUS_FD);
  signal(SIGPIPE, SIG_DFL);
  umask(0);
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) fail(errno, "PR_SET_PDEATHSIG");
  if (launch->join_cgroupns_pidfd >= 0 && setns(launch->join_cgroupns_pidfd, CLONE_NEWCGROUP) != 0) {
    fail(errno, "join the cgroup namespace");
  }
  setup_child_stdio(child_fds);
  /* Everything else (pipes, plan, bind sources) must not reach the container process. */
  if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) fail(errno, "close_range");
}

static void drop_held(void) {
  for (int i = 0; i < 6; i++) {
    if (held[i] >= 0) close(held[i]);
    held[i] = -1;
  }
}

static void release_barrier(void) {
  if (barrier_w < 0) return;
  if (write(barrier_w, "", 1) != 1) report("warning %d release the barrier: %s", errno, strerror(errno));
  close(barrier_w);
  barrier_w = -1;
}

void op_barrier(void) {
  report("ready");
  char byte;
  ssize_t n;
  do {
    n = read(barrier_r, &byte, 1);
  } while (n < 0 && errno == EINTR);
  if (n != 1) fail(n < 0 ? errno : ECANCELED, "wait for start");
  close(barrier_r);
}

static int exit_status(const siginfo_t *info) {
  if (info->si_code == CLD_EXITED) return info->si_status;
  return 128 + info->si_status;
}

static void signal_child(int pidfd, int sig) {
  if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) != 0 && errno != ESRCH) {
    report("warning %d signal %d: %s", errno, sig, strerror(errno));
  }
}

/* Handles complete control lines; returns 0 once the agent closed the control descriptor. */
static int read_control(int pidfd) {
  static char buf[256];
  static size_t used;
  ssize_t n = read(CONTROL_FD, buf + used, sizeof buf - used);
  if (n < 0) return errno == EINTR || errno == EAGAIN;
  if (n == 0) return 0;
  used += (size_t)n;
  char *line = buf;
  char *nl;
  while ((nl = memchr(line, '\n', used - (size_t)(line - buf))) != NULL) {
    *nl = '\0';
    if (strcmp(line, "ack") == 0)
      drop_held();
    else if (strcmp(line, "start") == 0)
      release_barrier();
    else if (strncmp(line, "console ", 8) == 0)
      console_forward(line + 8);
    else if (strncmp(line, "signal ", 7) == 0)
      signal_child(pidfd, (int)parse_ulong(line + 7, 10, "signal"));
    else
      report("warning %d unknown control line \"%s\"", EINVAL, line);
    line = nl + 1;
  }
  used -= (size_t)(line - buf);
  memmove(buf, line, used);
  if (used == sizeof buf) used = 0;
  return 1;
}

/*
 * The child's report lines: "console" when it waits for its terminal, "ready" at the barrier, or
 * "error ..." before it exits. exec closes the pipe (CLOEXEC), so EOF without an error means the
 * container process is running. Returns 0 at EOF.
 */
static int read_child_reports(int errpipe_r, pid_t pid) {
  static char buf[1024];
  static size_t used;
  static int failed;
  ssize_t n = read(errpipe_r, buf + used, sizeof buf - 1 - used);
  if (n < 0 && errno == EINTR) return 1;
  if (n <= 0) {
    if (!failed) report("started %d", pid);
    return 0;
  }
  used += (size_t)n;
  char *line = buf;
  char *nl;
  while ((nl = memchr(line, '\n', used - (size_t)(line - buf))) != NULL) {
    *nl = '\0';
    if (strcmp(line, "ready") == 0) {
      report("ready %d", pid);
    } else if (strcmp(line, "console") == 0) {
      report("console %d", pid);
    } else {
      failed = 1;
      report("%s", line);
    }
    line = nl + 1;
  }
  used -= (size_t)(line - buf);
  memmove(buf, line, used);
  if (used == sizeof buf - 1) used = 0;
  return 1;
}

/* The agent opens its pipe ends through /proc/<launcher>/fd: the launcher must outlive that. */
static void await_ack(int pidfd) {
  struct pollfd control = {.fd = CONTROL_FD, .events = POLLIN};
  while (held[0] >= 0) {
    if (poll(&control, 1, -1) < 0 && errno != EINTR) fail(errno, "poll");
    if (control.revents != 0 && !read_control(pidfd)) return;
  }
}

static _Noreturn void supervise(pid_t pid, int pidfd, int errpipe_r) {
  struct pollfd fds[3] = {
      {.fd = CONTROL_FD, .events = POLLIN}, {.fd = errpipe_r, .events = POLLIN}, {.fd = pidfd, .events = POLLIN}};
  for (;;) {
    /* The exit is handled only after the error pipe reached EOF, so "started"/"error" comes first. */
    fds[2].fd = fds[1].fd < 0 ? pidfd : -1;
    if (poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      fail(errno, "poll");
    }
    if (fds[1].fd >= 0 && fds[1].revents != 0 && !read_child_reports(errpipe_r, pid)) {
      close(errpipe_r);
      fds[1].fd = -1;
    }
    if (fds[0].fd >= 0 && fds[0].revents != 0 && !read_control(pidfd)) {
      signal_child(pidfd, SIGKILL);
      fds[0].fd = -1;
    }
    if (fds[2].fd >= 0 && fds[2].revents != 0) {
      siginfo_t info;
      memset(&info, 0, sizeof info);
      if (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &info, WEXITED) != 0) fail(errno, "waitid");
      report("exit %d", exit_status(&info));
      await_ack(pidfd);
      _exit(0);
    }
  }
}

void op_spawn(struct launch *launch) {
  int child_fds[3] = {-1, -1, -1};
  if (!console_requested()) create_stdio_pipes(child_fds);
  int errpipe[2], barrier[2];
  make_pipe(errpipe);
  make_pipe(barrier);
  signal(SIGPIPE, SIG_IGN);
  int pidfd = -1;
  struct clone_args_v2 args;
  memset(&args, 0, sizeof args);
  args.flags = launch->clone_flags | CLONE_PIDFD;
  args.pidfd = (uint64_t)(uintptr_t)&pidfd;
  args.exit_signal = SIGCHLD;
  if (launch->cgroup_fd >= 0) {
    args.flags |= CLONE_INTO_CGROUP_FLAG;
    args.cgroup = (uint64_t)launch->cgroup_fd;
  }
  long pid = syscall(SYS_clone3, &args, sizeof args);
  if (pid < 0) fail(errno, "clone3");
  if (pid == 0) {
    close(errpipe[0]);
    close(barrier[1]);
    barrier_r = barrier[0];
    console_keep(1);
    enter_child(launch, child_fds, errpipe[1]);
    return;
  }
  close(errpipe[1]);
  close(barrier[0]);
  barrier_w = barrier[1];
  console_keep(0);
  if (launch->cgroup_fd >= 0) close(launch->cgroup_fd);
  if (launch->join_cgroupns_pidfd >= 0) close(launch->join_cgroupns_pidfd);
  supervise((pid_t)pid, pidfd, errpipe[0]);
}
