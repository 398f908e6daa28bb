/*
 * The plan arrives on CONTROL_FD as "<byte length>\n" followed by that many bytes of
 * NUL-terminated tokens. A length prefix (not EOF) ends it because the same descriptor stays
 * open afterwards for control lines.
 */
#include "launcher.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PLAN_MAX (4u << 20)

static void read_exact(int fd, char *buf, size_t len) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = read(fd, buf + done, len - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(errno, "read plan");
    if (n == 0) fail(EPIPE, "plan truncated after %zu of %zu bytes", done, len);
    done += (size_t)n;
  }
}

static size_t read_length(int fd) {
  char digits[24];
  size_t used = 0;
  for (;;) {
    if (used == sizeof digits) fail(EINVAL, "plan length line too long");
    read_exact(fd, digits + used, 1);
    if (digits[used] == '\n') break;
    used++;
  }
  digits[used] = '\0';
  return parse_ulong(digits, 10, "plan length");
}

void plan_read(int fd, struct plan *plan) {
  size_t len = read_length(fd);
  if (len == 0 || len > PLAN_MAX) fail(EINVAL, "plan length %zu out of range", len);
  plan->buf = malloc(len);
  if (plan->buf == NULL) fail(ENOMEM, "plan buffer");
  read_exact(fd, plan->buf, len);
  if (plan->buf[len - 1] != '\0') fail(EINVAL, "plan does not end with a NUL");
  plan->len = len;
  plan->pos = 0;
}

const char *plan_next(struct plan *plan) {
  if (plan->pos >= plan->len) return NULL;
  const char *token = plan->buf + plan->pos;
  plan->pos += strlen(token) + 1;
  return token;
}
