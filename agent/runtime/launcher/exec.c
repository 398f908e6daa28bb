/*
 * The last step: execve of the container process. A bare name is searched in the PATH of the
 * process's own environment (runc's rule), and HOME defaults to the user's /etc/passwd entry in
 * the container's root, else "/".
 */
#include "launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static const char *env_value(const struct launch *launch, const char *name) {
  size_t len = strlen(name);
  for (size_t i = 0; i < launch->env_len; i++) {
    if (strncmp(launch->env[i], name, len) == 0 && launch->env[i][len] == '=') return launch->env[i] + len + 1;
  }
  return NULL;
}

static void push_env(struct launch *launch, char *entry) {
  char **grown = realloc(launch->env, (launch->env_len + 2) * sizeof *grown);
  if (grown == NULL) fail(ENOMEM, "environment");
  grown[launch->env_len++] = entry;
  grown[launch->env_len] = NULL;
  launch->env = grown;
}

/* More of /etc/passwd than any real one holds: a larger file is not searched. */
#define PASSWD_MAX_BYTES (4 << 20)

/*
 * /etc/passwd is the container's: only a regular file of a sane size is read, so that a FIFO, a
 * link to /dev/zero or a huge sparse file cannot hold the launch (O_NONBLOCK: opening a FIFO
 * returns at once).
 */
static FILE *open_passwd(void) {
  int fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return NULL;
  struct stat st;
  FILE *f = NULL;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= PASSWD_MAX_BYTES) f = fdopen(fd, "r");
  if (f == NULL) close(fd);
  return f;
}

/* The home field (6th) of the passwd line whose uid field (3rd) is `uid`. */
static char *passwd_home(uid_t uid) {
  FILE *f = open_passwd();
  if (f == NULL) return NULL;
  char line[1024];
  char *home = NULL;
  while (home == NULL && ftell(f) < PASSWD_MAX_BYTES && fgets(line, sizeof line, f) != NULL) {
    char *fields[7] = {0};
    char *cursor = line;
    for (int i = 0; i < 7; i++) fields[i] = strsep(&cursor, ":");
    if (fields[5] == NULL || fields[2] == NULL) continue;
    char *end = NULL;
    if (strtoul(fields[2], &end, 10) == uid && end != fields[2] && *end == '\0') home = strdup(fields[5]);
  }
  fclose(f);
  return home;
}

static void default_home(struct launch *launch) {
  if (env_value(launch, "HOME") != NULL) return;
  char *home = passwd_home(getuid());
  size_t len = 6 + (home == NULL ? 1 : strlen(home));
  char *entry = malloc(len);
  if (entry == NULL) fail(ENOMEM, "HOME");
  snprintf(entry, len, "HOME=%s", home == NULL || home[0] == '\0' ? "/" : home);
  free(home);
  push_env(launch, entry);
}

/* execve through each PATH entry; the most telling error wins (EACCES over ENOENT, as execvp). */
static int exec_search(const struct launch *launch, const char *name) {
  const char *path = env_value(launch, "PATH");
  if (path == NULL) path = DEFAULT_PATH;
  int saved = ENOENT;
  char candidate[PATH_MAX];
  while (*path != '\0') {
    const char *colon = strchrnul(path, ':');
    size_t dir_len = (size_t)(colon - path);
    int n = snprintf(candidate, sizeof candidate, "%.*s/%s", (int)dir_len, dir_len == 0 ? "." : path, name);
    if (n > 0 && (size_t)n < sizeof candidate) {
      execve(candidate, launch->argv, launch->env);
      if (errno != ENOENT && errno != ENOTDIR) saved = errno;
    }
    path = *colon == ':' ? colon + 1 : colon;
  }
  return saved;
}

void op_exec(struct launch *launch, const char *path) {
  if (launch->argv_len == 0) fail(EINVAL, "exec %s: empty argv", path);
  default_home(launch);
  /* A uid change cleared the parent-death signal; it must hold for the container's life. */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) fail(errno, "PR_SET_PDEATHSIG");
  int err;
  if (strchr(path, '/') != NULL) {
    execve(path, launch->argv, launch->env);
    err = errno;
  } else {
    err = exec_search(launch, path);
    /* runc's words: Docker matches them to answer 127 ("command not found"). */
    if (err == ENOENT) fail(err, "exec: \"%s\": executable file not found in $PATH", path);
  }
  fail(err, "exec %s", path);
}
