/* Progress: a live status line on a terminal (phase, source, epoch, batch, img/s, loss, ETA), one
 * line per epoch always (unless --quiet), and with --log-json one JSON object per epoch. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "run_internal.h"
#include "xfer/log.h"

static int g_bar_shown = 0;
static double g_last_draw = 0;

static int live(void) {
    return xfer_log_get_level() >= XFER_LOG_NORMAL && isatty(2);
}

void run_progress_clear(void) {
    if (g_bar_shown) fprintf(stderr, "\r\033[K");
    g_bar_shown = 0;
}

void run_progress_batch(const char *what, int epoch, int epochs, int batch, int n_batches,
                        double img_per_s, double loss, double eta_s) {
    if (!live()) return;
    double now = run_now();
    if (now - g_last_draw < 0.2 && batch != n_batches) return;
    g_last_draw = now;
    int eta = isfinite(eta_s) && eta_s > 0 ? (int)eta_s : 0;
    char lossbuf[32] = "";
    if (isfinite(loss)) snprintf(lossbuf, sizeof lossbuf, "  loss %.4f", loss);
    fprintf(stderr, "\r\033[K%s  epoch %d/%d  batch %d/%d  %.0f img/s%s  ETA %d:%02d", what, epoch,
            epochs, batch, n_batches, img_per_s, lossbuf, eta / 60, eta % 60);
    g_bar_shown = 1;
}

static void json_number(FILE *f, const char *key, double v, int last) {
    if (isfinite(v))
        fprintf(f, "\"%s\": %.9g%s", key, v, last ? "" : ", ");
    else
        fprintf(f, "\"%s\": null%s", key, last ? "" : ", ");
}

static void json_string(FILE *f, const char *key, const char *s) {
    fprintf(f, "\"%s\": \"", key);
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputs("\", ", f);
}

void run_progress_epoch(run_ctx *c, const char *what, const char *source, int epoch, int epochs,
                        double lr, double train_loss, double train_acc, double test_loss,
                        double test_acc, double seconds, double img_per_s) {
    run_progress_clear();
    if (xfer_log_get_level() >= XFER_LOG_NORMAL) {
        char test[64] = "";
        if (isfinite(test_acc))
            snprintf(test, sizeof test, "  test loss %.4f acc %.4f", test_loss, test_acc);
        fprintf(stderr,
                "%s  epoch %d/%d  lr %.3g  train loss %.4f acc %.4f%s  %.1fs (%.0f img/s)\n", what,
                epoch, epochs, lr, train_loss, train_acc, test, seconds, img_per_s);
    }
    if (c && c->log_json) {
        FILE *f = c->log_json;
        fputc('{', f);
        json_string(f, "phase", source ? "finetune" : "build");
        json_string(f, "what", what);
        if (source) json_string(f, "source", source);
        fprintf(f, "\"epoch\": %d, \"epochs\": %d, ", epoch, epochs);
        json_number(f, "lr", lr, 0);
        json_number(f, "train_loss", train_loss, 0);
        json_number(f, "train_acc", train_acc, 0);
        json_number(f, "test_loss", test_loss, 0);
        json_number(f, "test_acc", test_acc, 0);
        json_number(f, "seconds", seconds, 0);
        json_number(f, "img_per_s", img_per_s, 1);
        fputs("}\n", f);
        fflush(f);
    }
}
