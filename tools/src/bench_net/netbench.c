// netbench: the TCP server and client of `make bench-net`, built with gcc -static so that the same
// file runs in a runc container and in a vfs guest (a host directory mounted into both pods).
//
//   netbench server PORT                 a thread per connection; its first byte picks the test:
//                                          's' stream: read to EOF, answer the byte count
//                                          'r' request/response: echo RR_BYTES-byte messages
//   netbench stream HOST PORT SECONDS    send for SECONDS, then wait for the server's count:
//                                          {"bytes":N,"ns":T}
//   netbench rr HOST PORT COUNT          COUNT round trips on one connection
//   netbench crr HOST PORT COUNT         COUNT connect + round trip + close
//                                          {"requests":COUNT,"ns":T}
// Only totals are timed: a TCG guest's clock may tick in jiffies (4 ms), too coarse for one round
// trip but not for thousands.
// Exit status 0, or 1 with the failing call on stderr.

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define STREAM_CHUNK (128 * 1024)
#define RR_BYTES 64

static void die(const char *what) {
  perror(what);
  exit(1);
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

// 0 once all n bytes are read, -1 at EOF or on an error.
static int read_full(int fd, char *buf, size_t n) {
  while (n > 0) {
    ssize_t got = read(fd, buf, n);
    if (got <= 0) return -1;
    buf += got;
    n -= (size_t)got;
  }
  return 0;
}

static int write_full(int fd, const char *buf, size_t n) {
  while (n > 0) {
    ssize_t put = write(fd, buf, n);
    if (put <= 0) return -1;
    buf += put;
    n -= (size_t)put;
  }
  return 0;
}

static void no_delay(int fd) {
  int one = 1;
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) die("setsockopt TCP_NODELAY");
}

static void serve_stream(int fd) {
  char *buf = malloc(STREAM_CHUNK);
  if (buf == NULL) return;
  unsigned long long total = 0;
  ssize_t got;
  while ((got = read(fd, buf, STREAM_CHUNK)) > 0) total += (unsigned long long)got;
  free(buf);
  // A connection that fails ends alone; the client reports it.
  if (got < 0) return;
  char reply[32];
  int len = snprintf(reply, sizeof reply, "%llu\n", total);
  (void)write_full(fd, reply, (size_t)len);
}

static void serve_rr(int fd) {
  char buf[RR_BYTES];
  while (read_full(fd, buf, RR_BYTES) == 0)
    if (write_full(fd, buf, RR_BYTES) != 0) return;
}

// A thread, not a child: a connection's set-up cost stays TCP's, not fork's (slow in a TCG guest).
static void *serve_connection(void *arg) {
  int fd = (int)(intptr_t)arg;
  no_delay(fd);
  char mode;
  if (read_full(fd, &mode, 1) == 0) {
    if (mode == 's')
      serve_stream(fd);
    else if (mode == 'r')
      serve_rr(fd);
  }
  close(fd);
  return NULL;
}

static void on_term(int sig) {
  (void)sig;
  _exit(0);
}

static int serve(int port) {
  // PID 1 of a container ignores SIGTERM unless it handles it.
  signal(SIGTERM, on_term);
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  if (listener < 0) die("socket");
  int one = 1;
  if (setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) die("setsockopt SO_REUSEADDR");
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0) die("bind");
  if (listen(listener, 64) != 0) die("listen");
  pthread_attr_t detached;
  pthread_attr_init(&detached);
  pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);
  for (;;) {
    int fd = accept(listener, NULL, NULL);
    if (fd < 0) die("accept");
    pthread_t thread;
    int err = pthread_create(&thread, &detached, serve_connection, (void *)(intptr_t)fd);
    if (err != 0) {
      fprintf(stderr, "netbench: pthread_create: %s\n", strerror(err));
      exit(1);
    }
  }
}

static int connect_to(const char *host, int port, char mode) {
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
    fprintf(stderr, "netbench: not an IPv4 address: %s\n", host);
    exit(1);
  }
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket");
  no_delay(fd);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) die("connect");
  if (write_full(fd, &mode, 1) != 0) die("write");
  return fd;
}

static int stream(const char *host, int port, int seconds) {
  char *buf = calloc(1, STREAM_CHUNK);
  if (buf == NULL) die("calloc");
  int fd = connect_to(host, port, 's');
  int64_t start = now_ns();
  int64_t deadline = start + (int64_t)seconds * 1000000000;
  unsigned long long sent = 0;
  while (now_ns() < deadline) {
    if (write_full(fd, buf, STREAM_CHUNK) != 0) die("write");
    sent += STREAM_CHUNK;
  }
  if (shutdown(fd, SHUT_WR) != 0) die("shutdown");
  // Timed until the server has counted everything: what sits in buffers is not through yet.
  char reply[32] = {0};
  size_t len = 0;
  ssize_t got;
  while (len < sizeof reply - 1 && (got = read(fd, reply + len, sizeof reply - 1 - len)) > 0) len += (size_t)got;
  int64_t elapsed = now_ns() - start;
  unsigned long long received = strtoull(reply, NULL, 10);
  if (received != sent) {
    fprintf(stderr, "netbench: sent %llu bytes, the server counted %llu\n", sent, received);
    return 1;
  }
  printf("{\"bytes\":%llu,\"ns\":%lld}\n", sent, (long long)elapsed);
  return 0;
}

static void round_trip(int fd, char *buf) {
  if (write_full(fd, buf, RR_BYTES) != 0) die("write");
  if (read_full(fd, buf, RR_BYTES) != 0) die("read");
}

static int round_trips(const char *host, int port, int count, int reconnect) {
  char buf[RR_BYTES] = {0};
  int fd = reconnect ? -1 : connect_to(host, port, 'r');
  int64_t start = now_ns();
  for (int i = 0; i < count; i++) {
    if (reconnect) fd = connect_to(host, port, 'r');
    round_trip(fd, buf);
    if (reconnect) close(fd);
  }
  printf("{\"requests\":%d,\"ns\":%lld}\n", count, (long long)(now_ns() - start));
  return 0;
}

static int usage(void) {
  fprintf(stderr,
          "usage: netbench server PORT | stream HOST PORT SECONDS | rr HOST PORT COUNT | crr HOST PORT COUNT\n");
  return 2;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "server") == 0) return serve(atoi(argv[2]));
  if (argc != 5) return usage();
  int port = atoi(argv[3]);
  int n = atoi(argv[4]);
  if (n <= 0) return usage();
  if (strcmp(argv[1], "stream") == 0) return stream(argv[2], port, n);
  if (strcmp(argv[1], "rr") == 0) return round_trips(argv[2], port, n, 0);
  if (strcmp(argv[1], "crr") == 0) return round_trips(argv[2], port, n, 1);
  return usage();
}
