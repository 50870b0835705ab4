/* Driver of the emulator's self-check kernels (planted.cu): planted_main CASE. */
#include <stdio.h>

extern "C" int planted_run(const char *name);

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s CASE\n", argv[0]);
        return 2;
    }
    return planted_run(argv[1]);
}
