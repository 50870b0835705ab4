/* How many CPU threads xfer uses by default: the CPUs this process may run on. */
#ifndef XFER_CPUS_H
#define XFER_CPUS_H

/* The default thread count: the number of CPUs in this process's affinity mask
 * (sched_getaffinity: a Slurm task bound with task/affinity, taskset, a cgroup cpuset), capped by
 * SLURM_CPUS_PER_TASK when Slurm sets it (an allocation without CPU binding); 0 when
 * OMP_NUM_THREADS is set (OpenMP's own default then applies). Always >= 0. */
int xfer_default_threads(void);

#endif
