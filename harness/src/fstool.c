/*
 * fstool: the file-system probes busybox lacks (xattrs, flock, fcntl locks), for e2e tests that
 * run inside the guest and on the host. Built statically by the tests, so it runs in the
 * busybox-only guest. Exit status: 0 success, 1 "busy" (lock held elsewhere), 2 error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/xattr.h>
#include <unistd.h>

static int fail(const char *what, const char *path) {
  fprintf(stderr, "fstool: %s %s: %s\n", what, path, strerror(errno));
  return 2;
}

static int open_rw(const char *path) {
  int fd = open(path, O_RDWR | O_CREAT, 0644);
  if (fd < 0) exit(fail("open", path));
  return fd;
}

static int try_fcntl(const char *path) {
  int fd = open_rw(path);
  struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
  if (fcntl(fd, F_GETLK, &fl) < 0) return fail("F_GETLK", path);
  if (fl.l_type != F_UNLCK) {
    printf("busy\n");
    return 1;
  }
  fl.l_type = F_WRLCK;
  if (fcntl(fd, F_SETLK, &fl) < 0) {
    if (errno == EAGAIN || errno == EACCES) {
      printf("busy\n");
      return 1;
    }
    return fail("F_SETLK", path);
  }
  printf("locked\n");
  return 0;
}

static int try_flock(const char *path) {
  int fd = open_rw(path);
  if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
    if (errno == EWOULDBLOCK) {
      printf("busy\n");
      return 1;
    }
    return fail("flock", path);
  }
  printf("locked\n");
  return 0;
}

/* Takes both locks, announces it by creating `marker`, then holds them until `release` exists. */
static int hold(const char *path, const char *marker, const char *release) {
  int fd = open_rw(path);
  struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
  if (fcntl(fd, F_SETLKW, &fl) < 0) return fail("F_SETLKW", path);
  int ffd = open_rw(path);
  if (flock(ffd, LOCK_EX) < 0) return fail("flock", path);
  close(open_rw(marker));
  for (int i = 0; i < 600 && access(release, F_OK) != 0; i++) usleep(100000);
  return access(release, F_OK) == 0 ? 0 : 2;
}

int main(int argc, char **argv) {
  char buf[4096];
  if (argc == 5 && !strcmp(argv[1], "setxattr")) {
    if (setxattr(argv[2], argv[3], argv[4], strlen(argv[4]), 0) < 0) return fail("setxattr", argv[2]);
    return 0;
  }
  if (argc == 4 && !strcmp(argv[1], "getxattr")) {
    ssize_t n = getxattr(argv[2], argv[3], buf, sizeof(buf));
    if (n < 0) return fail("getxattr", argv[2]);
    printf("%.*s\n", (int)n, buf);
    return 0;
  }
  if (argc == 3 && !strcmp(argv[1], "listxattr")) {
    ssize_t n = listxattr(argv[2], buf, sizeof(buf));
    if (n < 0) return fail("listxattr", argv[2]);
    for (ssize_t i = 0; i < n; i += strlen(buf + i) + 1) printf("%s\n", buf + i);
    return 0;
  }
  if (argc == 4 && !strcmp(argv[1], "removexattr")) {
    if (removexattr(argv[2], argv[3]) < 0) return fail("removexattr", argv[2]);
    return 0;
  }
  if (argc == 3 && !strcmp(argv[1], "try-fcntl")) return try_fcntl(argv[2]);
  if (argc == 3 && !strcmp(argv[1], "try-flock")) return try_flock(argv[2]);
  if (argc == 5 && !strcmp(argv[1], "hold")) return hold(argv[2], argv[3], argv[4]);
  fprintf(stderr, "usage: fstool setxattr|getxattr|listxattr|removexattr|try-fcntl|try-flock|hold …\n");
  return 2;
}
