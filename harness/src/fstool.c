/*
 * fstool: the file-system probes busybox lacks (xattrs, flock, fcntl locks, mmap), for e2e tests that
 * run inside the guest and on the host. Built statically by the tests, so it runs in the
 * busybox-only guest. Exit status: 0 success, 1 "busy" (lock held elsewhere), 2 error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
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

/* Writes the whole file to stdout through a shared read-only mapping (on DAX: the window). */
static int mmap_read(const char *path) {
  int fd = open(path, O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0) return fail("open", path);
  if (st.st_size == 0) return 0;
  char *p = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return fail("mmap", path);
  return fwrite(p, 1, st.st_size, stdout) == (size_t)st.st_size ? 0 : fail("write stdout for", path);
}

/* Stores `text` at `offset` of the existing file through a shared writable mapping, then msync. */
static int mmap_write(const char *path, const char *offset, const char *text) {
  int fd = open(path, O_RDWR);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0) return fail("open", path);
  long at = atol(offset);
  size_t len = strlen(text);
  if (at < 0 || at + (long)len > st.st_size) {
    errno = EINVAL;
    return fail("range past the end of", path);
  }
  char *p = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return fail("mmap", path);
  memcpy(p + at, text, len);
  if (msync(p, st.st_size, MS_SYNC) < 0) return fail("msync", path);
  return 0;
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
  if (argc == 3 && !strcmp(argv[1], "mmap-read")) return mmap_read(argv[2]);
  if (argc == 5 && !strcmp(argv[1], "mmap-write")) return mmap_write(argv[2], argv[3], argv[4]);
  fprintf(stderr,
          "usage: fstool setxattr|getxattr|listxattr|removexattr|try-fcntl|try-flock|hold|mmap-read|mmap-write "
          "…\n");
  return 2;
}
