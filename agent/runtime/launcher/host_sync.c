/* What a VM resumed from a template takes from the host at CreateSandbox (run then, or first in the
 * first container's launch): every copy resumes with the template's clock and the template's random
 * generator state. */
#include <errno.h>
#include <fcntl.h>
#include <linux/random.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "launcher.h"

#define MAX_ENTROPY_BYTES 256

/* The guest's wall clock to the host's, given in Unix milliseconds. */
void op_settime(const char *unix_ms) {
  uint64_t ms = parse_u64(unix_ms, 10, "host time");
  struct timespec now = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
  if (clock_settime(CLOCK_REALTIME, &now) != 0) fail(errno, "clock_settime %s ms", unix_ms);
}

static int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/* Mixes the host's bytes (hex) into the input pool, then reseeds the generator from it at once:
 * without RNDRESEEDCRNG the generator keeps the template's key until its next scheduled reseed.
 * Nothing is credited: the pool was ready before, and the bytes only make this copy differ. */
void op_reseed(const char *hex) {
  size_t len = strlen(hex);
  if (len == 0 || len % 2 != 0 || len / 2 > MAX_ENTROPY_BYTES)
    fail(EINVAL, "entropy must be 1..%d bytes of hex", MAX_ENTROPY_BYTES);
  struct rand_pool_info *info = calloc(1, sizeof *info + len / 2);
  if (info == NULL) fail(ENOMEM, "entropy");
  unsigned char *bytes = (unsigned char *)info->buf;
  for (size_t i = 0; i < len / 2; i++) {
    int high = hex_digit(hex[2 * i]), low = hex_digit(hex[2 * i + 1]);
    if (high < 0 || low < 0) fail(EINVAL, "entropy is not lowercase hex");
    bytes[i] = (unsigned char)(high << 4 | low);
  }
  info->buf_size = (int)(len / 2);
  info->entropy_count = 0;
  int fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
  if (fd < 0) fail(errno, "open /dev/urandom");
  if (ioctl(fd, RNDADDENTROPY, info) != 0) fail(errno, "RNDADDENTROPY");
  if (ioctl(fd, RNDRESEEDCRNG) != 0) fail(errno, "RNDRESEEDCRNG");
  close(fd);
  free(info);
}
