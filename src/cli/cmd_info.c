/* xfer info: version, backends compiled in, CUDA devices, and the versions of the libraries. */
#include <stdio.h>

#include <cblas.h>
#include <hdf5.h>
#include <jpeglib.h>
#include <png.h>
#include <yaml.h>
#include <zlib.h>
#include <cjson/cJSON.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "commands.h"
#include "xfer/cpus.h"
#include "xfer/cuda_info.h"
#include "xfer/version.h"

int cmd_info(int argc, char **argv) {
    static const xfer_cmd_spec spec = {
        "info", "", "Print versions, backends and CUDA devices.", NULL, NULL, 0, 0, 0};
    const char *pos[8];
    int npos = 0;
    int rc = xfer_cmd_parse(&spec, argc > 8 ? 8 : argc, argv, pos, &npos);
    if (rc == XFER_OPTS_HELP) return XFER_OK;
    if (rc != XFER_OK) return rc;

    xfer_cuda_info ci;
    xfer_cuda_query(&ci);
    printf("xfer %s\n", XFER_VERSION);
    printf("backends: cpu%s\n", ci.compiled ? ", cuda" : "");
    if (ci.compiled) {
        printf("CUDA runtime: %d.%d\n", ci.runtime_version / 1000,
               (ci.runtime_version % 1000) / 10);
        if (ci.driver_version)
            printf("CUDA driver: %d.%d\n", ci.driver_version / 1000,
                   (ci.driver_version % 1000) / 10);
        else
            printf("CUDA driver: none\n");
        printf("cuDNN: %zu.%zu.%zu\n", ci.cudnn_version / 10000, (ci.cudnn_version / 100) % 100,
               ci.cudnn_version % 100);
        printf("cuBLAS: %d.%d.%d\n", ci.cublas_version / 10000, (ci.cublas_version / 100) % 100,
               ci.cublas_version % 100);
    }
    if (ci.n_devices == 0) {
        printf("CUDA devices: none (%s)\n", ci.why_none);
    } else {
        printf("CUDA devices: %d\n", ci.n_devices);
        for (int i = 0; i < ci.n_devices; i++)
            printf("  [%d] %s, compute capability %d.%d, %.1f GiB\n", i, ci.names[i],
                   ci.cc_major[i], ci.cc_minor[i], (double)ci.memory[i] / (1024.0 * 1024 * 1024));
    }
    unsigned maj, min, rel;
    H5get_libversion(&maj, &min, &rel);
    printf("HDF5: %u.%u.%u\n", maj, min, rel);
    printf("libyaml: %s\n", yaml_get_version_string());
    printf("cJSON: %s\n", cJSON_Version());
    printf("OpenBLAS: %s\n", openblas_get_config());
#ifdef LIBJPEG_TURBO_VERSION
#define XFER_STR2(x) #x
#define XFER_STR(x) XFER_STR2(x)
    printf("libjpeg-turbo: %s (jpeglib API %d)\n", XFER_STR(LIBJPEG_TURBO_VERSION),
           JPEG_LIB_VERSION);
#else
    printf("libjpeg: API %d\n", JPEG_LIB_VERSION);
#endif
    printf("libpng: %s\n", png_get_libpng_ver(NULL));
    printf("zlib: %s\n", zlibVersion());
#ifdef _OPENMP
    printf("OpenMP threads: %d\n", omp_get_max_threads());
#endif
    printf("default threads: %d (CPUs this process may use; 0: OMP_NUM_THREADS decides)\n",
           xfer_default_threads());
    return XFER_OK;
}
