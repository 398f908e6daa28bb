/*
 * Resource limits, user and capabilities of the container process, in runc's order: limits and
 * the bounding set while still root with every capability, then groups/gid/uid with KEEPCAPS so
 * the permitted set survives the uid change, then capset and the ambient set, then no_new_privs.
 */
#include "launcher.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_GROUPS 256

void op_rlimit(const char *resource, const char *soft, const char *hard) {
  int res = (int)parse_ulong(resource, 10, "rlimit resource");
  struct rlimit limit = {
      .rlim_cur = (rlim_t)parse_u64(soft, 10, "rlimit soft"),
      .rlim_max = (rlim_t)parse_u64(hard, 10, "rlimit hard"),
  };
  if (setrlimit(res, &limit) != 0) fail(errno, "setrlimit %d", res);
}

void op_capbset(const char *bounding) {
  uint64_t keep = parse_u64(bounding, 16, "bounding set");
  for (int cap = 0; cap < 64; cap++) {
    /* PR_CAPBSET_READ fails with EINVAL past the kernel's last capability. */
    if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) < 0) break;
    if (keep & (1ULL << cap)) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) fail(errno, "drop capability %d from the bounding set", cap);
  }
}

static size_t parse_groups(const char *csv, gid_t *groups) {
  size_t count = 0;
  char copy[MAX_GROUPS * 12];
  if (strlen(csv) >= sizeof copy) fail(E2BIG, "additional gids list too long");
  strcpy(copy, csv);
  for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
    if (count == MAX_GROUPS) fail(E2BIG, "more than %d additional gids", MAX_GROUPS);
    groups[count++] = (gid_t)parse_ulong(tok, 10, "additional gid");
  }
  return count;
}

void op_user(const char *uid, const char *gid, const char *groups_csv) {
  gid_t groups[MAX_GROUPS];
  size_t count = parse_groups(groups_csv, groups);
  uid_t u = (uid_t)parse_ulong(uid, 10, "uid");
  gid_t g = (gid_t)parse_ulong(gid, 10, "gid");
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) fail(errno, "PR_SET_KEEPCAPS");
  if (setgroups(count, groups) != 0) fail(errno, "setgroups");
  if (setresgid(g, g, g) != 0) fail(errno, "setgid %u", g);
  if (setresuid(u, u, u) != 0) fail(errno, "setuid %u", u);
  if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) fail(errno, "clear PR_SET_KEEPCAPS");
}

void op_caps(const char *effective, const char *permitted, const char *inheritable, const char *ambient) {
  uint64_t e = parse_u64(effective, 16, "effective set");
  uint64_t p = parse_u64(permitted, 16, "permitted set");
  uint64_t i = parse_u64(inheritable, 16, "inheritable set");
  uint64_t a = parse_u64(ambient, 16, "ambient set");
  struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct data[2] = {
      {.effective = (uint32_t)e, .permitted = (uint32_t)p, .inheritable = (uint32_t)i},
      {.effective = (uint32_t)(e >> 32), .permitted = (uint32_t)(p >> 32), .inheritable = (uint32_t)(i >> 32)},
  };
  if (syscall(SYS_capset, &header, data) != 0) fail(errno, "capset");
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) fail(errno, "clear the ambient set");
  for (int cap = 0; cap < 64; cap++) {
    if (!(a & (1ULL << cap))) continue;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0) fail(errno, "raise ambient capability %d", cap);
  }
}

void op_nnp(void) {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail(errno, "PR_SET_NO_NEW_PRIVS");
}
