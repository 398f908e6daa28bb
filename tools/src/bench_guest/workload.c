/*
 * workload: bench-guest's in-guest file-system workload, run by the guest's /init on the mounted
 * share (static, so the initramfs needs no libc). usage: workload DIR SCALE
 * Each phase prints one console line the host parses (tools/src/bench_guest/guest_output.ts):
 *   VFSBENCH <phase> <seconds> <amount> <unit>
 * and `VFSBENCH-BEGIN` / `VFSBENCH-END` around all phases (the host samples CPU at those lines).
 * Errors print `VFSBENCH-ERROR <what>: <errno text>` and exit 1; a phase the mount cannot do at
 * all (a shared writable mmap under cache=none) prints `VFSBENCH-SKIP <phase> <unit> <errno text>`
 * instead of its line, and the run goes on. Page caches are dropped before every phase that reads,
 * so reads reach the file server. DIR/tree (the git-status-like tree) is made by the host before
 * boot; everything else the workload makes itself.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024 * 1024)
#define PATH_BYTES 512
/* Directory paths are at most half a path, so a name appended to one always fits. */
#define DIR_BYTES 256

static char buf[MIB];

static void fail(const char *fmt, ...) {
  char what[PATH_BYTES];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  printf("VFSBENCH-ERROR %s: %s\n", what, strerror(errno));
  fflush(stdout);
  exit(1);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void report(const char *phase, double start, double amount, const char *unit) {
  printf("VFSBENCH %s %.6f %.0f %s\n", phase, now() - start, amount, unit);
  fflush(stdout);
}

static void drop_caches(void) {
  sync();
  int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
  if (fd < 0 || write(fd, "3\n", 2) != 2) fail("drop_caches");
  close(fd);
}

static int scaled(double base, double scale) {
  int n = (int)(base * scale + 0.5);
  return n < 1 ? 1 : n;
}

/* xorshift: the same "random" offsets and sizes in every run and back end. */
static uint64_t prng = 88172645463325252ull;
static uint64_t next_random(void) {
  prng ^= prng << 13;
  prng ^= prng >> 7;
  prng ^= prng << 17;
  return prng;
}

static void write_all(int fd, const char *data, size_t len, const char *path) {
  while (len > 0) {
    ssize_t n = write(fd, data, len);
    if (n <= 0) fail("write %s", path);
    data += n;
    len -= (size_t)n;
  }
}

/*
 * A private read-only mapping, copied out a MiB at a time after drop_caches: how a loader or a
 * reader of an mmap'd file sees it (with DAX the pages are the host's, without they are faulted
 * into the guest page cache). Private, because virtio-fs cache=none refuses shared mappings.
 */
static void mmap_read(const char *path, int mib) {
  drop_caches();
  double t = now();
  int fd = open(path, O_RDONLY);
  if (fd < 0) fail("open %s", path);
  size_t len = (size_t)mib * MIB;
  char *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
  if (map == MAP_FAILED) fail("mmap %s", path);
  for (size_t off = 0; off < len; off += MIB) memcpy(buf, map + off, MIB);
  munmap(map, len);
  close(fd);
  report("mmap-read", t, (double)len, "bytes");
}

/* A new file sized with ftruncate, filled through a shared writable mapping and msync'ed. */
static void mmap_write(const char *dir, int mib) {
  char path[PATH_BYTES];
  snprintf(path, sizeof path, "%s/mmap.bin", dir);
  memset(buf, 'm', sizeof buf);
  size_t len = (size_t)mib * MIB;
  double t = now();
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) fail("create %s", path);
  if (ftruncate(fd, (off_t)len) != 0) fail("ftruncate %s", path);
  char *map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) {
    /* virtio-fs cache=none (direct I/O) and 9p cache=none have no shared writable mappings. */
    if (errno != ENODEV && errno != EINVAL) fail("mmap %s", path);
    printf("VFSBENCH-SKIP mmap-write bytes %s\n", strerror(errno));
    fflush(stdout);
  } else {
    for (size_t off = 0; off < len; off += MIB) memcpy(map + off, buf, MIB);
    if (msync(map, len, MS_SYNC) != 0) fail("msync %s", path);
    munmap(map, len);
    report("mmap-write", t, (double)len, "bytes");
  }
  close(fd);
  if (unlink(path) != 0) fail("unlink %s", path);
}

static void sequential(const char *dir, int mib, int reads) {
  char path[PATH_BYTES];
  snprintf(path, sizeof path, "%s/seq.bin", dir);
  memset(buf, 'x', sizeof buf);
  double t = now();
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) fail("create %s", path);
  for (int i = 0; i < mib; i++) write_all(fd, buf, MIB, path);
  if (fsync(fd) != 0) fail("fsync %s", path);
  close(fd);
  report("seq-write", t, (double)mib * MIB, "bytes");

  drop_caches();
  t = now();
  fd = open(path, O_RDONLY);
  if (fd < 0) fail("open %s", path);
  for (;;) {
    ssize_t n = read(fd, buf, MIB);
    if (n < 0) fail("read %s", path);
    if (n == 0) break;
  }
  close(fd);
  report("seq-read", t, (double)mib * MIB, "bytes");

  mmap_read(path, mib);
  mmap_write(dir, mib);

  drop_caches();
  fd = open(path, O_RDONLY);
  if (fd < 0) fail("open %s", path);
  posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM); /* no readahead: each pread is one 4 KiB read */
  uint64_t blocks = (uint64_t)mib * (MIB / 4096);
  t = now();
  for (int i = 0; i < reads; i++) {
    off_t off = (off_t)(next_random() % blocks) * 4096;
    if (pread(fd, buf, 4096, off) != 4096) fail("pread %s", path);
  }
  close(fd);
  report("rand-read-4k", t, reads, "ops");
  if (unlink(path) != 0) fail("unlink %s", path);
}

static void metadata(const char *dir, int files) {
  char path[PATH_BYTES];
  char sub[DIR_BYTES];
  snprintf(sub, sizeof sub, "%s/meta", dir);
  if (mkdir(sub, 0755) != 0) fail("mkdir %s", sub);
  double t = now();
  for (int i = 0; i < files; i++) {
    snprintf(path, sizeof path, "%s/f%05d", sub, i);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) fail("create %s", path);
    close(fd);
  }
  report("create", t, files, "ops");

  drop_caches();
  t = now();
  for (int i = 0; i < files; i++) {
    struct stat st;
    snprintf(path, sizeof path, "%s/f%05d", sub, i);
    if (stat(path, &st) != 0) fail("stat %s", path);
  }
  report("stat", t, files, "ops");

  drop_caches();
  t = now();
  DIR *d = opendir(sub);
  if (d == NULL) fail("opendir %s", sub);
  int entries = 0;
  errno = 0;
  while (readdir(d) != NULL) entries++;
  if (errno != 0) fail("readdir %s", sub);
  closedir(d);
  if (entries != files + 2) {
    errno = EIO;
    fail("readdir %s: %d entries, expected %d", sub, entries, files + 2);
  }
  report("readdir", t, entries, "entries");

  t = now();
  for (int i = 0; i < files; i++) {
    snprintf(path, sizeof path, "%s/f%05d", sub, i);
    if (unlink(path) != 0) fail("unlink %s", path);
  }
  report("unlink", t, files, "ops");
  if (rmdir(sub) != 0) fail("rmdir %s", sub);
}

/* git status: lstat of every entry of a nested tree, directories read as it goes. */
static int walk(const char *path) {
  DIR *d = opendir(path);
  if (d == NULL) fail("opendir %s", path);
  int count = 0;
  struct dirent *e;
  char child[PATH_BYTES];
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    snprintf(child, sizeof child, "%s/%s", path, e->d_name);
    struct stat st;
    if (lstat(child, &st) != 0) fail("lstat %s", child);
    count++;
    if (S_ISDIR(st.st_mode)) count += walk(child);
  }
  closedir(d);
  return count;
}

static void tree_walk(const char *dir) {
  char tree[DIR_BYTES];
  snprintf(tree, sizeof tree, "%s/tree", dir);
  drop_caches();
  double t = now();
  int n = walk(tree);
  report("tree-walk-cold", t, n, "entries");
  t = now();
  n = walk(tree);
  report("tree-walk-warm", t, n, "entries");
}

static void small_files(const char *dir, int files) {
  char path[PATH_BYTES];
  char sub[DIR_BYTES];
  snprintf(sub, sizeof sub, "%s/small", dir);
  if (mkdir(sub, 0755) != 0) fail("mkdir %s", sub);
  memset(buf, 's', 4096);
  double t = now();
  for (int i = 0; i < files; i++) {
    snprintf(path, sizeof path, "%s/s%04d", sub, i);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) fail("create %s", path);
    write_all(fd, buf, 4096, path);
    close(fd);
  }
  report("small-write", t, files, "files");
  drop_caches();
  t = now();
  for (int i = 0; i < files; i++) {
    snprintf(path, sizeof path, "%s/s%04d", sub, i);
    int fd = open(path, O_RDONLY);
    if (fd < 0) fail("open %s", path);
    if (read(fd, buf, 8192) != 4096) fail("read %s", path);
    close(fd);
  }
  report("small-read", t, files, "files");
}

/*
 * npm install: what a tar extractor does per entry of a package tarball (mkdir of each directory;
 * create, write, fchmod, futimens and close of each file), for packages of 30 files in nested
 * directories, sizes from 100 B to 16 KiB.
 */
static void unpack(const char *dir, int files) {
  char path[PATH_BYTES];
  char sub[DIR_BYTES];
  snprintf(sub, sizeof sub, "%s/node_modules", dir);
  if (mkdir(sub, 0755) != 0) fail("mkdir %s", sub);
  memset(buf, 'n', 16384);
  const struct timespec times[2] = {{1700000000, 0}, {1700000000, 0}};
  double t = now();
  for (int i = 0; i < files; i++) {
    int pkg = i / 30, inner = i % 30;
    if (inner == 0) {
      snprintf(path, sizeof path, "%s/pkg%04d", sub, pkg);
      if (mkdir(path, 0755) != 0) fail("mkdir %s", path);
      for (int k = 0; k < 3; k++) {
        snprintf(path, sizeof path, "%s/pkg%04d/d%d", sub, pkg, k);
        if (mkdir(path, 0755) != 0) fail("mkdir %s", path);
      }
    }
    if (inner < 6)
      snprintf(path, sizeof path, "%s/pkg%04d/f%02d.js", sub, pkg, inner);
    else
      snprintf(path, sizeof path, "%s/pkg%04d/d%d/f%02d.js", sub, pkg, inner % 3, inner);
    size_t size = 100 + (size_t)(next_random() % 16284);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) fail("create %s", path);
    write_all(fd, buf, size, path);
    if (fchmod(fd, 0644) != 0) fail("fchmod %s", path);
    if (futimens(fd, times) != 0) fail("futimens %s", path);
    close(fd);
  }
  report("unpack", t, files, "files");
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: workload DIR SCALE\n");
    return 2;
  }
  const char *dir = argv[1];
  double scale = atof(argv[2]);
  if (!(scale > 0)) {
    fprintf(stderr, "workload: SCALE must be positive\n");
    return 2;
  }
  printf("VFSBENCH-BEGIN\n");
  fflush(stdout);
  sequential(dir, scaled(64, scale), scaled(2000, scale));
  metadata(dir, scaled(2000, scale));
  tree_walk(dir);
  small_files(dir, scaled(500, scale));
  unpack(dir, scaled(3000, scale));
  sync();
  printf("VFSBENCH-END\n");
  fflush(stdout);
  return 0;
}
