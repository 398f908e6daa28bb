/*
 * vfs-launcher: starts one container process for the guest agent (see main.c for why it exists).
 * Shared declarations of its parts: plan.c (reading the plan), report.c (status lines),
 * fs_ops.c (mounts, pivot, device nodes), creds.c (rlimits, user, capabilities), spawn.c (clone3,
 * stdio, supervision of the child until it exits), console.c (the terminal of the container),
 * devices.c (the device rules).
 */
#ifndef VFS_LAUNCHER_H
#define VFS_LAUNCHER_H

#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>

/* Fixed descriptors set up by the agent when it spawns the launcher. */
#define CONTROL_FD 3 /* agent -> launcher: the plan, then "ack", "start", "console FD", "signal N" lines */
#define STATUS_FD 4  /* launcher -> agent: status lines (agent/src/container/launcher_protocol.ts) */

/* The plan: NUL-terminated tokens, read in order. */
struct plan {
  char *buf;
  size_t len;
  size_t pos;
};

void plan_read(int fd, struct plan *plan);
/* Next token, or NULL at the end of the plan. */
const char *plan_next(struct plan *plan);

/* Writes "error <errno> <message>\n" to the current report descriptor and exits. */
_Noreturn void fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Writes one formatted status line to the current report descriptor; fails on a dead agent. */
void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* In the child, reports go to the error pipe the supervisor reads; see spawn.c. */
void report_to(int fd);

unsigned long parse_ulong(const char *text, int base, const char *what);
uint64_t parse_u64(const char *text, int base, const char *what);

/* fs_ops.c */
void op_mount(const char *src, const char *dst, const char *type, const char *flags, const char *data);
void op_umount(const char *target, const char *flags);
void op_mkdirp(const char *path, const char *mode);
void op_bind_open(const char *path, const char *recursive);
void op_bind_move(const char *index, const char *dst);
void op_mknod(const char *path, const char *mode, const char *major, const char *minor, const char *uid,
              const char *gid);
void op_symlink(const char *target, const char *path);
void op_mask(const char *path);
void op_readonly(const char *path);
void op_write(const char *path, const char *value);
void op_pivot(const char *stage, const char *root);
void op_chdir(const char *path);
void mkdirp(const char *path, unsigned mode);

/* host_sync.c */
void op_settime(const char *unix_ms);
void op_reseed(const char *hex);

/* creds.c */
void op_rlimit(const char *resource, const char *soft, const char *hard);
void op_capbset(const char *bounding);
void op_user(const char *uid, const char *gid, const char *groups);
void op_caps(const char *effective, const char *permitted, const char *inheritable, const char *ambient);
void op_nnp(void);

/* spawn.c */
struct launch {
  unsigned long clone_flags;
  int cgroup_fd;           /* -1: stay in the launcher's cgroup */
  int join_cgroupns_pidfd; /* exec: the child joins this process's cgroup namespace; -1: none */
  char **env;
  size_t env_len;
  char **argv;
  size_t argv_len;
};

/*
 * devices.c: the device rules' BPF program, attached to the cgroup of the `cgroup` step; shared
 * through a pin in `cache_dir` (a bpffs) unless that is "".
 */
void op_devices(struct launch *launch, const char *rules, const char *cache_dir);

void op_join(struct launch *launch, const char *pid, const char *flags);
void op_setns(const char *pid, const char *flags);
/* Returns in the child only; the supervisor never returns (it exits after reporting the exit). */
void op_spawn(struct launch *launch);
/* In the child: report "ready" and block until the agent sends "start". */
void op_barrier(void);
_Noreturn void op_exec(struct launch *launch, const char *path);

/* console.c */
/* Before spawn: the process gets a terminal of this size instead of stdio pipes. */
void op_tty(const char *rows, const char *cols);
int console_requested(void);
/* After clone3: each side closes the console ends it does not use. */
void console_keep(int in_child);
/* In the supervisor, on the agent's "console <fd>": passes the master's number to the child. */
void console_forward(const char *fd);
/* In the child, inside the container: attaches the terminal the agent opened (see console.c). */
void op_console(void);
/* A plan of its own (resize): TIOCSWINSZ on the master passed as `fd`. */
void op_winsize(const char *fd, const char *rows, const char *cols);

#endif
