/* Test driver for src/wordvec: prints what xfer computes so that test_wordvec.py can compare it
 * with fastText's own output and with independent Python computations.
 *   wordvec_tool bin MODEL.bin [WORD...]        one "WORD v1 .. vdim" line per word (stdin if none)
 *   wordvec_tool vec FILE.vec WORD...           the same from a .vec; "WORD MISSING" if absent
 *   wordvec_tool dist vec|bin|wordnet PATH sum|mean SRC TGT [SYN]
 *        SRC/TGT: class-name files; SYN: lines "KEY<TAB>VALUE"; prints the matrix, one row a line
 *   wordvec_tool wn DIR NAME...                 "NAME<TAB>OFFSET" (the synset xfer picks)
 *   wordvec_tool wndist DIR NAME NAME           the WordNet distance
 * Errors: the message on stderr, exit status = the xfer status. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xfer/wordvec.h"

static int fail(const xfer_err *err) {
    fprintf(stderr, "%s\n", err->msg);
    return err->code ? err->code : 1;
}

static int print_vec(const char *word, const float *v, int dim) {
    printf("%s", word);
    for (int j = 0; j < dim; j++)
        printf(" %.9g", v[j]);
    printf("\n");
    return 0;
}

static int cmd_bin(int argc, char **argv) {
    xfer_err err = {0};
    xfer_fasttext *m;
    if (xfer_fasttext_open(argv[0], &m, &err) != XFER_OK) return fail(&err);
    int dim = xfer_fasttext_dim(m), rc = 0, rows;
    float *v = malloc((size_t)dim * sizeof *v);
    char *line = NULL;
    size_t cap = 0;
    for (int i = 1; i < argc || (argc == 1 && getline(&line, &cap, stdin) >= 0); i++) {
        const char *w = argc > 1 ? argv[i] : line;
        if (argc == 1) line[strcspn(line, "\r\n")] = '\0';
        if (xfer_fasttext_word_vector(m, w, v, &rows, &err) != XFER_OK) {
            rc = fail(&err);
            break;
        }
        print_vec(w, v, dim);
        if (argc > 1 && i + 1 >= argc) break;
    }
    free(line);
    free(v);
    xfer_fasttext_close(m);
    return rc;
}

static int cmd_vec(int argc, char **argv) {
    xfer_err err = {0};
    int n = argc - 1, dim;
    float *v;
    unsigned char *found = malloc((size_t)n + 1);
    if (xfer_vec_lookup(argv[0], (const char *const *)argv + 1, n, &dim, &v, found, &err)) {
        free(found);
        return fail(&err);
    }
    for (int i = 0; i < n; i++) {
        if (found[i])
            print_vec(argv[1 + i], v + (size_t)i * dim, dim);
        else
            printf("%s MISSING\n", argv[1 + i]);
    }
    free(v);
    free(found);
    return 0;
}

static int cmd_dist(int argc, char **argv) {
    if (argc < 5) return 2;
    xfer_err err = {0};
    xfer_wordvec_cfg wv = {0};
    wv.present = true;
    wv.path = argv[1];
    wv.format = strcmp(argv[0], "bin") == 0 ? XFER_WV_BIN : XFER_WV_VEC;
    wv.class_distance =
        strcmp(argv[0], "wordnet") == 0 ? XFER_CLASSDIST_WORDNET : XFER_CLASSDIST_WORDVEC;
    if (wv.class_distance == XFER_CLASSDIST_WORDNET) wv.wordnet_dir = argv[1];
    wv.name_vector = strcmp(argv[2], "mean") == 0 ? XFER_NAMEVEC_MEAN : XFER_NAMEVEC_SUM;
    char **src = NULL, **tgt = NULL, **syn = NULL;
    int ns = 0, nt = 0, nsyn = 0, rc = 0;
    if (xfer_class_names_read(argv[3], &src, &ns, &err) ||
        xfer_class_names_read(argv[4], &tgt, &nt, &err) ||
        (argc > 5 && xfer_class_names_read(argv[5], &syn, &nsyn, &err))) {
        rc = fail(&err);
        goto out;
    }
    wv.n_synonyms = nsyn;
    wv.synonym_from = malloc((size_t)nsyn * sizeof(char *) + 1);
    wv.synonym_to = malloc((size_t)nsyn * sizeof(char *) + 1);
    for (int i = 0; i < nsyn; i++) {
        char *tab = strchr(syn[i], '\t');
        if (!tab) {
            fprintf(stderr, "synonym line without a tab: %s\n", syn[i]);
            rc = 2;
            goto out;
        }
        *tab = '\0';
        wv.synonym_from[i] = syn[i];
        wv.synonym_to[i] = tab + 1;
    }
    double *D = malloc((size_t)ns * (size_t)nt * sizeof *D);
    if (xfer_class_distance_matrix(&wv, (const char *const *)src, ns, (const char *const *)tgt, nt,
                                   D, &err) != XFER_OK) {
        rc = fail(&err);
    } else {
        for (int s = 0; s < ns; s++)
            for (int t = 0; t < nt; t++)
                printf("%.17g%c", D[s * nt + t], t + 1 < nt ? ' ' : '\n');
    }
    free(D);
out:
    free(wv.synonym_from);
    free(wv.synonym_to);
    xfer_words_free(src, ns);
    xfer_words_free(tgt, nt);
    xfer_words_free(syn, nsyn);
    return rc;
}

static int cmd_wn(int argc, char **argv, int dist) {
    xfer_err err = {0};
    xfer_wordnet *wn;
    if (xfer_wordnet_open(argv[0], &wn, &err) != XFER_OK) return fail(&err);
    if (dist && argc == 3) {
        int a = xfer_wordnet_class_synset(wn, argv[1]), b = xfer_wordnet_class_synset(wn, argv[2]);
        if (a < 0 || b < 0)
            printf("MISSING\n");
        else
            printf("%d\n", xfer_wordnet_distance(wn, a, b));
    } else {
        for (int i = 1; i < argc; i++) {
            int s = xfer_wordnet_class_synset(wn, argv[i]);
            printf("%s\t%08ld\n", argv[i], s < 0 ? -1L : xfer_wordnet_offset(wn, s));
        }
    }
    xfer_wordnet_close(wn);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: see the comment at the top of wordvec_tool.c\n");
        return 2;
    }
    if (strcmp(argv[1], "bin") == 0) return cmd_bin(argc - 2, argv + 2);
    if (strcmp(argv[1], "vec") == 0) return cmd_vec(argc - 2, argv + 2);
    if (strcmp(argv[1], "dist") == 0) return cmd_dist(argc - 2, argv + 2);
    if (strcmp(argv[1], "wn") == 0) return cmd_wn(argc - 2, argv + 2, 0);
    if (strcmp(argv[1], "wndist") == 0) return cmd_wn(argc - 2, argv + 2, 1);
    fprintf(stderr, "unknown command %s\n", argv[1]);
    return 2;
}
