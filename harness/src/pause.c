/*
 * pause: the process of a CRI pod sandbox, as registry.k8s.io/pause's: it holds the pod's namespaces
 * until SIGINT or SIGTERM (exit 0), and as PID 1 of a shared PID namespace it reaps orphans. The
 * tests build it statically and package it as the sandbox image, since no registry is reachable.
 */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_term(int sig) {
  (void)sig;
  _exit(0);
}

static void on_child(int sig) {
  (void)sig;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

static void handle(int sig, void (*handler)(int), int flags) {
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = handler;
  action.sa_flags = flags;
  sigaction(sig, &action, NULL);
}

int main(void) {
  handle(SIGINT, on_term, 0);
  handle(SIGTERM, on_term, 0);
  handle(SIGCHLD, on_child, SA_NOCLDSTOP);
  for (;;) pause();
}
