/* The default thread count (include/xfer/cpus.h). Without it OpenMP and OpenBLAS start one thread
 * per CPU of the machine, which on a shared node (a Slurm task given 2 of 64 CPUs) means many
 * spinning threads per core. */
#define _GNU_SOURCE
#include "xfer/cpus.h"

#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

int xfer_default_threads(void) {
    const char *omp = getenv("OMP_NUM_THREADS");
    if (omp && *omp) return 0;
    int n = 0;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
    if (n <= 0) n = (int)sysconf(_SC_NPROCESSORS_ONLN);
    const char *slurm = getenv("SLURM_CPUS_PER_TASK");
    if (slurm && *slurm) {
        char *end;
        long s = strtol(slurm, &end, 10);
        if (*end == '\0' && s > 0 && s < n) n = (int)s;
    }
    return n > 0 ? n : 1;
}
