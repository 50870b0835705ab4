/* Counter-based RNG: splitmix64's finalizer applied to key + counter * golden ratio. A pure
 * function of (key, counter), so results never depend on which thread draws what. */
#include "xfer/data.h"

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t xfer_rng_u64(uint64_t key, uint64_t counter) {
    return mix64(mix64(key) + (counter + 1) * 0x9e3779b97f4a7c15ULL);
}

double xfer_rng_uniform(uint64_t key, uint64_t counter) {
    return (double)(xfer_rng_u64(key, counter) >> 11) * (1.0 / 9007199254740992.0);
}

uint64_t xfer_rng_key(uint64_t a, uint64_t b, uint64_t c) {
    return mix64(mix64(mix64(a) ^ (b + 0x632be59bd9b4e019ULL)) ^ (c + 0x8cb92ba72f3d8dd7ULL));
}
