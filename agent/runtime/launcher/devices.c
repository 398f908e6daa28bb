/*
 * The container's device rules (linux.resources.devices), enforced as runc enforces them on cgroup
 * v2: a BPF_PROG_TYPE_CGROUP_DEVICE program attached to the container's cgroup, which the kernel
 * asks on every open and mknod of a device node by a process in it.
 *
 * The agent sends the rules in the order the spec gives them (later rules win), as one token:
 * "A:T:MAJ:MIN:ACC" joined by ',', A 'y' (allow) or 'n', T 'a', 'c' or 'b', MAJ and MIN a number
 * or '*', ACC some of "rwm". The program checks them last first and starts with the access asked
 * for: an allow rule that matches the device takes its access off, and the open is allowed once
 * nothing is left; a deny rule that matches any of what is left refuses it; so does no match.
 *
 * Loading a program runs the kernel's verifier: 5-10 ms a container under TCG. The program is a
 * function of the rules and of this generator (PROGRAM_VERSION) alone and holds no state, so
 * containers with the same rules (most: the runtime's defaults) share one. With a cache directory (a bpffs only the
 * agent's mount namespace sees) the first load pins the program under a path that is the encoded rules themselves
 * (behind the generator's version), and later launches with the same rules take it from there: no hash, so no two rule
 * sets can meet.
 */
#include "launcher.h"

#include <errno.h>
#include <limits.h>
#include <linux/bpf.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_RULES 256
/* Per rule at most 3 checks, 4 for its verdict and its exit; 6 to load the request, 2 to deny. */
#define RULE_INSNS 8
#define MAX_INSNS (6 + MAX_RULES * RULE_INSNS + 2)
#define ANY (-1L)

struct rule {
  int allow;
  char type; /* 'a', 'c' or 'b' */
  long major, minor;
  int access; /* BPF_DEVCG_ACC_* bits */
};

static struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  struct bpf_insn i = {.code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm};
  return i;
}

static long parse_number(const char *text) {
  return strcmp(text, "*") == 0 ? ANY : (long)parse_ulong(text, 10, "device number");
}

static int parse_access(const char *text) {
  int access = 0;
  for (const char *c = text; *c != '\0'; c++) {
    if (*c == 'r')
      access |= BPF_DEVCG_ACC_READ;
    else if (*c == 'w')
      access |= BPF_DEVCG_ACC_WRITE;
    else if (*c == 'm')
      access |= BPF_DEVCG_ACC_MKNOD;
    else
      fail(EINVAL, "device access \"%s\"", text);
  }
  return access;
}

static struct rule parse_rule(char *text) {
  char *fields[5];
  for (int i = 0; i < 5; i++) {
    fields[i] = strsep(&text, ":");
    if (fields[i] == NULL) fail(EINVAL, "device rule with %d fields", i);
  }
  if (text != NULL || strlen(fields[0]) != 1 || strchr("yn", fields[0][0]) == NULL || strlen(fields[1]) != 1 ||
      strchr("acb", fields[1][0]) == NULL)
    fail(EINVAL, "malformed device rule");
  return (struct rule){.allow = fields[0][0] == 'y',
                       .type = fields[1][0],
                       .major = parse_number(fields[2]),
                       .minor = parse_number(fields[3]),
                       .access = parse_access(fields[4])};
}

/* Registers: r2 the device type, r3 unused, r4 major, r5 minor, r6 the access not yet allowed. */
static size_t emit_rule(struct bpf_insn *out, const struct rule *rule) {
  struct bpf_insn verdict[4];
  size_t n = 0;
  if (rule->allow) {
    verdict[n++] = insn(BPF_ALU64 | BPF_AND | BPF_K, BPF_REG_6, 0, 0, ~rule->access);
    verdict[n++] = insn(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_6, 0, 2, 0);
    verdict[n++] = insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 1);
  } else {
    verdict[n++] = insn(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_7, BPF_REG_6, 0, 0);
    verdict[n++] = insn(BPF_ALU64 | BPF_AND | BPF_K, BPF_REG_7, 0, 0, rule->access);
    verdict[n++] = insn(BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_7, 0, 2, 0);
    verdict[n++] = insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0);
  }
  struct bpf_insn checks[3];
  size_t c = 0;
  int type = rule->type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK;
  if (rule->type != 'a') checks[c++] = insn(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_2, 0, 0, type);
  if (rule->major != ANY) checks[c++] = insn(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_4, 0, 0, (int32_t)rule->major);
  if (rule->minor != ANY) checks[c++] = insn(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_5, 0, 0, (int32_t)rule->minor);
  size_t len = c + n + 1; /* at most RULE_INSNS */
  for (size_t i = 0; i < c; i++) {
    checks[i].off = (int16_t)(len - i - 1); /* a mismatch skips to the next rule */
    out[i] = checks[i];
  }
  memcpy(out + c, verdict, n * sizeof *verdict);
  out[c + n] = insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
  return len;
}

static size_t emit_program(struct bpf_insn *out, struct rule *rules, size_t count) {
  size_t n = 0;
  /* struct bpf_cgroup_dev_ctx: access_type (access << 16 | type), major, minor. */
  out[n++] = insn(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_1, 0, 0);
  out[n++] = insn(BPF_ALU64 | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xffff);
  out[n++] = insn(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_6, BPF_REG_1, 0, 0);
  out[n++] = insn(BPF_ALU64 | BPF_RSH | BPF_K, BPF_REG_6, 0, 0, 16);
  out[n++] = insn(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_4, BPF_REG_1, 4, 0);
  out[n++] = insn(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_5, BPF_REG_1, 8, 0);
  for (size_t i = count; i > 0; i--) n += emit_rule(out + n, &rules[i - 1]);
  out[n++] = insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0);
  out[n++] = insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
  return n;
}

static int try_load(const struct bpf_insn *insns, size_t count, char *log, uint32_t log_size) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.insns = (uint64_t)(uintptr_t)insns;
  attr.insn_cnt = (uint32_t)count;
  attr.license = (uint64_t)(uintptr_t) "Apache";
  attr.log_buf = (uint64_t)(uintptr_t)log;
  attr.log_size = log_size;
  attr.log_level = log == NULL ? 0 : 1;
  return (int)syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
}

/* Without a verifier log first: a log longer than its buffer fails the load (ENOSPC). */
static int load_program(const struct bpf_insn *insns, size_t count) {
  int fd = try_load(insns, count, NULL, 0);
  if (fd >= 0) return fd;
  int err = errno;
  static char log[4096];
  try_load(insns, count, log, sizeof log);
  fail(err, "load the device program: %.300s", log);
}

/* The program of `encoded`, parsed and verified. */
static int build_program(const char *encoded) {
  static struct rule rules[MAX_RULES];
  static struct bpf_insn insns[MAX_INSNS];
  char *copy = strdup(encoded);
  if (copy == NULL) fail(ENOMEM, "device rules");
  size_t count = 0;
  for (char *cursor = copy, *text; (text = strsep(&cursor, ",")) != NULL;) {
    if (*text == '\0') continue;
    if (count == MAX_RULES) fail(E2BIG, "more than %d device rules", MAX_RULES);
    rules[count++] = parse_rule(text);
  }
  free(copy);
  return load_program(insns, emit_program(insns, rules, count));
}

/*
 * The version of the program's generator (emit_program, emit_rule) in every pin's name: a launcher
 * that generates another program for the same rules must not take an older one's. Bump it with
 * any change to what they emit.
 */
#define PROGRAM_VERSION "1"
#define PIN_PREFIX "d" PROGRAM_VERSION "-"

/*
 * Rules per path component: a longer rule set is a chain of directories, so that the path stays the
 * rules themselves (`ctr run`'s ten and runc's eleven encode to 254 bytes: 258 with the marks).
 */
#define CHUNK 240

/*
 * The pin of `encoded` in `cache_dir`: the prefix, then the rules CHUNK bytes per component, each
 * but the last a directory ending in '+', the last the pin ending in '='. Neither mark is in the
 * encoding's alphabet, so a rule set that starts with another's is told apart from it. With
 * `make_dirs` the directories are made (for a pin). 0 when the rules hold other characters or the
 * path does not fit.
 */
static int pin_path(char *path, size_t size, const char *cache_dir, const char *encoded, int make_dirs) {
  size_t len = strlen(encoded);
  /* Only what the encoding writes: nothing that could name another directory. */
  if (strspn(encoded, "ynacb0123456789*:rwm,") != len) return 0;
  int n = snprintf(path, size, "%s/" PIN_PREFIX, cache_dir);
  if (n < 0 || (size_t)n >= size) return 0;
  size_t used = (size_t)n;
  for (size_t off = 0;; off += CHUNK) {
    size_t take = len - off < CHUNK ? len - off : CHUNK;
    int last = off + take == len;
    n = snprintf(path + used, size - used, "%.*s%c", (int)take, encoded + off, last ? '=' : '+');
    if (n < 0 || (size_t)n >= size - used) return 0;
    used += (size_t)n;
    if (last) return 1;
    if (make_dirs && mkdir(path, 0700) != 0 && errno != EEXIST) return 0;
    if (used + 1 >= size) return 0;
    path[used++] = '/';
    path[used] = '\0';
  }
}

/* What is pinned at `path` (the attach tells whether it is a device program), or -1. */
static int pinned(const char *path) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.pathname = (uint64_t)(uintptr_t)path;
  return (int)syscall(SYS_bpf, BPF_OBJ_GET, &attr, sizeof attr);
}

/*
 * Pins `prog` in place of whatever is at `path` (a pin that did not attach). A pin that fails only
 * costs a later launch a load.
 */
static void pin(int prog, const char *path) {
  unlink(path);
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.pathname = (uint64_t)(uintptr_t)path;
  attr.bpf_fd = (uint32_t)prog;
  syscall(SYS_bpf, BPF_OBJ_PIN, &attr, sizeof attr);
}

/* 0 or -errno. */
static int attach(int cgroup_fd, int prog) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.target_fd = (uint32_t)cgroup_fd;
  attr.attach_bpf_fd = (uint32_t)prog;
  attr.attach_type = BPF_CGROUP_DEVICE;
  attr.attach_flags = BPF_F_ALLOW_MULTI;
  return syscall(SYS_bpf, BPF_PROG_ATTACH, &attr, sizeof attr) == 0 ? 0 : -errno;
}

/* A bpffs: anything else would only gather the chain's directories. */
static int is_bpffs(const char *dir) {
  struct statfs fs;
  return statfs(dir, &fs) == 0 && fs.f_type == BPF_FS_MAGIC;
}

/*
 * Attaches the program of `encoded`: the one pinned for these rules in `cache_dir` ("" for none),
 * else a new one, pinned there for the next launch. A pinned one that does not attach is loaded
 * anew and replaced, so a bad pin costs one launch time, never a container.
 */
void op_devices(struct launch *launch, const char *encoded, const char *cache_dir) {
  if (launch->cgroup_fd < 0) fail(EINVAL, "device rules without a cgroup");
  char path[PATH_MAX];
  int cached = cache_dir[0] != '\0' && is_bpffs(cache_dir) && pin_path(path, sizeof path, cache_dir, encoded, 0);
  if (cached) {
    int prog = pinned(path);
    int attached = prog >= 0 && attach(launch->cgroup_fd, prog) == 0;
    if (prog >= 0) close(prog);
    if (attached) return;
  }
  int prog = build_program(encoded);
  int err = attach(launch->cgroup_fd, prog);
  if (err != 0) fail(-err, "attach the device program");
  if (cached && pin_path(path, sizeof path, cache_dir, encoded, 1)) pin(prog, path);
  close(prog);
}
