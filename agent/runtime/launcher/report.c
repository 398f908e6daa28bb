/* Status lines to the agent, and the one way the launcher fails: a reported errno + message. */
#include "launcher.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int report_fd = STATUS_FD;

void report_to(int fd) {
  report_fd = fd;
}

static void write_all(const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(report_fd, buf, len);
    if (n < 0 && errno == EINTR) continue;
    /* The agent is gone: nobody can be told anything any more. */
    if (n < 0) _exit(125);
    buf += n;
    len -= (size_t)n;
  }
}

static void vreport(const char *fmt, va_list ap) {
  char line[1024];
  int n = vsnprintf(line, sizeof line - 1, fmt, ap);
  if (n < 0) n = 0;
  if ((size_t)n > sizeof line - 2) n = sizeof line - 2;
  /* One record per line: a newline inside a path must not split it. */
  for (int i = 0; i < n; i++) {
    if (line[i] == '\n') line[i] = ' ';
  }
  line[n] = '\n';
  write_all(line, (size_t)n + 1);
}

void report(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vreport(fmt, ap);
  va_end(ap);
}

void fail(int err, const char *fmt, ...) {
  char message[900];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);
  report("error %d %s: %s", err, message, strerror(err));
  _exit(127);
}

unsigned long parse_ulong(const char *text, int base, const char *what) {
  return (unsigned long)parse_u64(text, base, what);
}

uint64_t parse_u64(const char *text, int base, const char *what) {
  char *end = NULL;
  errno = 0;
  unsigned long long value = strtoull(text, &end, base);
  if (errno != 0 || end == text || *end != '\0') fail(EINVAL, "bad %s \"%s\"", what, text);
  return (uint64_t)value;
}
