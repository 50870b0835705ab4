/* Where a run keeps its files, all under the results file's folder (docs/run.md):
 *   cache/<dataset>.h5                decoded datasets (xfer prepare)
 *   sources/<name>.safetensors        sources built by training (best epoch), reused by later runs
 *   sources/<name>.last.safetensors   their resume checkpoints (+ .state), removed when built
 *   checkpoints/<results stem>/<name>.best.safetensors, .last.safetensors (+ .state)
 *                                     fine-tuning, per results file (shards share the folder)
 *   report.md, *.png                  the report and the plots */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>

#include "run_internal.h"

char *run_path(const run_ctx *c, const char *sub, const char *name, const char *suffix) {
    const char *dir = (c && sub) ? c->outdir : NULL;
    size_t n = (dir ? strlen(dir) + 1 : 0) + (sub ? strlen(sub) + 1 : 0) + strlen(name) +
               (suffix ? strlen(suffix) : 0) + 1;
    char *p = malloc(n);
    if (!p) return NULL;
    if (dir)
        snprintf(p, n, "%s/%s/%s%s", dir, sub, name, suffix ? suffix : "");
    else
        snprintf(p, n, "%s%s", name, suffix ? suffix : "");
    return p;
}

int run_mkdirs(const char *dir, xfer_err *err) {
    char buf[4096];
    size_t n = strlen(dir);
    if (n == 0) return XFER_OK;
    if (n >= sizeof buf) return xfer_fail(err, XFER_EINPUT, "%s: path too long", dir);
    memcpy(buf, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        char saved = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return xfer_fail(err, XFER_EINPUT, "%s: cannot create folder: %s", buf,
                             strerror(errno));
        buf[i] = saved;
    }
    return XFER_OK;
}

int run_file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

void run_free_strings(char **s, int n) {
    if (!s) return;
    for (int i = 0; i < n; i++)
        free(s[i]);
    free(s);
}

double run_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

char *run_ckpt_path(const run_ctx *c, const char *name) {
    const char *base = strrchr(c->output, '/');
    base = base ? base + 1 : c->output;
    size_t stem = strlen(base);
    if (stem > 3 && strcmp(base + stem - 3, ".h5") == 0) stem -= 3;
    /* room for the caller to append ".last.safetensors" */
    size_t n = strlen(c->outdir) + stem + strlen(name) + 64;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/checkpoints/%.*s/%s", c->outdir, (int)stem, base, name);
    return p;
}
