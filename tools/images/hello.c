/* The hello-world image's only program: a static binary that prints what just happened and exits 0. */
#include <string.h>
#include <unistd.h>

static const char message[] =
  "\n"
  "Hello from Berth!\n"
  "This message shows that your installation appears to be working correctly.\n"
  "\n"
  "To generate this message, Berth took the following steps:\n"
  " 1. The berth client contacted the berth daemon (berthd).\n"
  " 2. berthd asked berth-runtimed to pull the \"hello-world\" image from the registry mirror.\n"
  "    (amd64)\n"
  " 3. berth-runtimed unpacked it, started a berth-shim, and the shim created a new container from\n"
  "    that image which runs the executable that produces the output you are currently reading.\n"
  " 4. berthd streamed that output to the berth client, which sent it to your terminal.\n"
  "\n"
  "To try something more ambitious, you can run a busybox container with:\n"
  " $ berth run -it busybox sh\n"
  "\n"
  "The same engine speaks the Docker Engine API, so the docker CLI works too:\n"
  " $ DOCKER_HOST=unix:///run/berth/berthd.sock docker run --rm hello-world\n"
  "\n"
  "For more examples and ideas, see docs/getting-started.md.\n"
  "\n";

int main(void) {
  const char *p = message;
  size_t left = sizeof(message) - 1;
  while (left > 0) {
    ssize_t n = write(STDOUT_FILENO, p, left);
    if (n < 0) return 1;
    p += n;
    left -= (size_t)n;
  }
  return 0;
}
