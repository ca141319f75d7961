/* The corpus' C program: built static on the host (the debian image has no compiler), then checked in a
 * debian stage and shipped alone in a scratch image. */
#include <stdio.h>

int main(int argc, char **argv) {
  printf("Hello from a static C program (%d args)\n", argc - 1);
  for (int i = 1; i < argc; i++) printf("arg: %s\n", argv[i]);
  return 0;
}
