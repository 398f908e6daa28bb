/*
 * vfs-launcher — the guest agent's process launcher (the model is runc's nsexec).
 *
 * Why a helper at all: the agent is Node, which is multi-threaded, so it can neither unshare
 * namespaces for itself (unshare moves only the calling thread) nor fork and run set-up code
 * between fork and exec. util-linux's unshare/nsenter/setpriv chained through a shell would
 * cost several execs per start under TCG and could not report a failing step with its errno.
 * This static binary reads a plan of small steps the agent computed (the agent keeps all
 * policy: mount order, flags, capability masks), runs them, and supervises the child.
 *
 * Usage: vfs-launcher, with the plan on fd 3 (then control lines), status lines out on fd 4,
 * and for a resize the pty master on the descriptor named by the plan's `winsize` step.
 * Steps before `spawn` run in the launcher; the steps after it run in the child, ending in
 * `exec`. A plan without `spawn` (share mounts, pty resize) reports "done" and exits.
 */
#include "launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_ARGS 8

struct step {
  const char *name;
  int arity;
};

static const struct step steps[] = {
    {"ns", 1},      {"cgroup", 1},   {"join", 2},   {"setns", 2},    {"tty", 2},      {"spawn", 0},    {"barrier", 0},
    {"unshare", 1}, {"mount", 5},    {"mkdirp", 2}, {"bindopen", 2}, {"bindmove", 2}, {"mknod", 6},    {"symlink", 2},
    {"mask", 1},    {"readonly", 1}, {"write", 2},  {"pivot", 2},    {"chdir", 1},    {"hostname", 1}, {"rlimit", 3},
    {"capbset", 1}, {"user", 3},     {"caps", 4},   {"nnp", 0},      {"umask", 1},    {"env", 1},      {"arg", 1},
    {"exec", 1},    {"winsize", 3},  {"umount", 2}, {"console", 0},  {"settime", 1},  {"reseed", 1},   {"devices", 2},
};

static void push(char ***vec, size_t *len, const char *value) {
  char **grown = realloc(*vec, (*len + 2) * sizeof *grown);
  if (grown == NULL) fail(ENOMEM, "argument vector");
  grown[(*len)++] = (char *)value;
  grown[*len] = NULL;
  *vec = grown;
}

static void open_cgroup(struct launch *launch, const char *path) {
  launch->cgroup_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (launch->cgroup_fd < 0) fail(errno, "open cgroup %s", path);
}

static void set_hostname(const char *name) {
  if (sethostname(name, strlen(name)) != 0) fail(errno, "sethostname %s", name);
}

static void do_unshare(const char *flags) {
  if (unshare((int)parse_ulong(flags, 10, "unshare flags")) != 0) fail(errno, "unshare");
}

static void run_step(struct launch *launch, const char *name, const char **a) {
  if (!strcmp(name, "ns"))
    launch->clone_flags = parse_ulong(a[0], 10, "clone flags");
  else if (!strcmp(name, "cgroup"))
    open_cgroup(launch, a[0]);
  else if (!strcmp(name, "devices"))
    op_devices(launch, a[0], a[1]);
  else if (!strcmp(name, "setns"))
    op_setns(a[0], a[1]);
  else if (!strcmp(name, "join"))
    op_join(launch, a[0], a[1]);
  else if (!strcmp(name, "tty"))
    op_tty(a[0], a[1]);
  else if (!strcmp(name, "console"))
    op_console();
  else if (!strcmp(name, "spawn"))
    op_spawn(launch);
  else if (!strcmp(name, "barrier"))
    op_barrier();
  else if (!strcmp(name, "unshare"))
    do_unshare(a[0]);
  else if (!strcmp(name, "mount"))
    op_mount(a[0], a[1], a[2], a[3], a[4]);
  else if (!strcmp(name, "umount"))
    op_umount(a[0], a[1]);
  else if (!strcmp(name, "mkdirp"))
    op_mkdirp(a[0], a[1]);
  else if (!strcmp(name, "bindopen"))
    op_bind_open(a[0], a[1]);
  else if (!strcmp(name, "bindmove"))
    op_bind_move(a[0], a[1]);
  else if (!strcmp(name, "mknod"))
    op_mknod(a[0], a[1], a[2], a[3], a[4], a[5]);
  else if (!strcmp(name, "symlink"))
    op_symlink(a[0], a[1]);
  else if (!strcmp(name, "mask"))
    op_mask(a[0]);
  else if (!strcmp(name, "readonly"))
    op_readonly(a[0]);
  else if (!strcmp(name, "write"))
    op_write(a[0], a[1]);
  else if (!strcmp(name, "pivot"))
    op_pivot(a[0], a[1]);
  else if (!strcmp(name, "chdir"))
    op_chdir(a[0]);
  else if (!strcmp(name, "hostname"))
    set_hostname(a[0]);
  else if (!strcmp(name, "settime"))
    op_settime(a[0]);
  else if (!strcmp(name, "reseed"))
    op_reseed(a[0]);
  else if (!strcmp(name, "rlimit"))
    op_rlimit(a[0], a[1], a[2]);
  else if (!strcmp(name, "capbset"))
    op_capbset(a[0]);
  else if (!strcmp(name, "user"))
    op_user(a[0], a[1], a[2]);
  else if (!strcmp(name, "caps"))
    op_caps(a[0], a[1], a[2], a[3]);
  else if (!strcmp(name, "nnp"))
    op_nnp();
  else if (!strcmp(name, "umask"))
    umask((mode_t)parse_ulong(a[0], 8, "umask"));
  else if (!strcmp(name, "env"))
    push(&launch->env, &launch->env_len, a[0]);
  else if (!strcmp(name, "arg"))
    push(&launch->argv, &launch->argv_len, a[0]);
  else if (!strcmp(name, "exec"))
    op_exec(launch, a[0]);
  else if (!strcmp(name, "winsize"))
    op_winsize(a[0], a[1], a[2]);
}

static const struct step *find_step(const char *name) {
  for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
    if (strcmp(steps[i].name, name) == 0) return &steps[i];
  }
  fail(EINVAL, "unknown plan step \"%s\"", name);
}

int main(void) {
  struct plan plan;
  struct launch launch = {.cgroup_fd = -1, .join_cgroupns_pidfd = -1};
  plan_read(CONTROL_FD, &plan);
  const char *name;
  while ((name = plan_next(&plan)) != NULL) {
    const struct step *step = find_step(name);
    const char *args[MAX_ARGS];
    for (int i = 0; i < step->arity; i++) {
      args[i] = plan_next(&plan);
      if (args[i] == NULL) fail(EINVAL, "plan step %s: missing argument %d", name, i + 1);
    }
    run_step(&launch, name, args);
  }
  report("done");
  return 0;
}
