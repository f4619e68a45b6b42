/* The pod sandbox's process of a Fornax node: holds the pod's namespaces, reaps the children
 * it inherits (it is PID 1 of pods that share their PID namespace) and exits on SIGINT or
 * SIGTERM. Built static (gcc -static) into an image FROM scratch by scripts/node-images.sh. */
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_stop(int sig) { stop = sig; }

static void on_child(int sig) {
  (void)sig;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(int argc, char **argv) {
  struct sigaction sa = {0};
  if (argc > 1 && argv[1][0] == '-' && argv[1][1] == 'v') {
    puts("fornax-pause 1");
    return 0;
  }
  if (getpid() != 1)
    fputs("fornax-pause: warning: not PID 1, children of others are not reaped\n", stderr);
  sa.sa_handler = on_stop;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sa.sa_handler = on_child;
  sa.sa_flags = SA_NOCLDSTOP;
  sigaction(SIGCHLD, &sa, NULL);
  while (!stop)
    pause();
  return 0;
}
