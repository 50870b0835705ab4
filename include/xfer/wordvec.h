/* Class-name distances for the paper's EMD score: fastText word vectors (.vec text, .bin models
 * with subword vectors) and a WordNet hypernym-graph distance. See docs/wordvec.md for the rules
 * (how a class name becomes words, synonyms, lower-case fallback, missing words). */
#ifndef XFER_WORDVEC_H
#define XFER_WORDVEC_H

#include <stdint.h>

#include "xfer/config.h"
#include "xfer/error.h"

/* ---- the contract used by the scores and the runner ---------------------------------------- */

/* D[s*n_target+t] = distance between source class s and target class t:
 * class_distance wordvec: ‖v(s) − v(t)‖₂ with v(name) = sum (or mean) of the name's word vectors;
 * class_distance wordnet: shortest path length between the names' noun synsets through the WordNet
 * hypernym graph (edges @ and @i, via a common hypernym).
 * Every missing word or name is listed in one XFER_EINPUT error. D is caller-owned. */
int xfer_class_distance_matrix(const xfer_wordvec_cfg *wv, const char *const *source_names,
                               int n_source, const char *const *target_names, int n_target,
                               double *D /* [n_source*n_target], row-major, D[s*n_target+t] */,
                               xfer_err *err);

/* ---- class names ----------------------------------------------------------------------------- */

/* Splits a display name into words: an ImageNet-style "a, b, c" keeps the first synonym "a"; then
 * split on space, '_', '-', '/'; empty pieces dropped; case kept. *words is malloc'd (free with
 * xfer_words_free); a name with no word is XFER_EINPUT. */
int xfer_class_name_words(const char *name, char ***words, int *n_words, xfer_err *err);
void xfer_words_free(char **words, int n_words);

/* Reads a class-name file: one name per line (UTF-8), trailing spaces/CR trimmed, blank lines and
 * lines starting with '#' skipped. *names malloc'd, free with xfer_words_free. */
int xfer_class_names_read(const char *path, char ***names, int *n_names, xfer_err *err);

/* Class vectors [n * *dim] (float64, malloc'd into *vectors) for the word-vector distance, with the
 * resolution rules of docs/wordvec.md. */
int xfer_class_vectors(const xfer_wordvec_cfg *wv, const char *const *names, int n, int *dim,
                       double **vectors, xfer_err *err);

/* ---- fastText .vec (text) -------------------------------------------------------------------- */

/* Streams a .vec file ("count dim" header, then "word v1 .. vdim" rows) and keeps only the
 * requested words (exact byte match). vectors: malloc'd [n_words * *dim] (zero for words not
 * found); found[i] = 1 when words[i] was in the file. Stops reading once every word is found. */
int xfer_vec_lookup(const char *path, const char *const *words, int n_words, int *dim,
                    float **vectors, unsigned char *found, xfer_err *err);

/* ---- fastText .bin (model) ------------------------------------------------------------------- */

/* A fastText model opened for word-vector lookup: the args and dictionary are read into memory,
 * matrix rows are read from the file on demand (a 7 GB model is not loaded whole). */
typedef struct xfer_fasttext xfer_fasttext;

int xfer_fasttext_open(const char *path, xfer_fasttext **model, xfer_err *err);
void xfer_fasttext_close(xfer_fasttext *model);
int xfer_fasttext_dim(const xfer_fasttext *model);
/* Dictionary id of the word, -1 when out of vocabulary. */
int32_t xfer_fasttext_word_id(const xfer_fasttext *model, const char *word);
/* fastText's getWordVector: the mean of the word's own row (in vocabulary) and its character
 * n-gram rows. *n_rows = the number of rows averaged (0: no vector — out of vocabulary and no
 * n-grams; out is then zero). out: [dim]. */
int xfer_fasttext_word_vector(xfer_fasttext *model, const char *word, float *out, int *n_rows,
                              xfer_err *err);

/* ---- WordNet --------------------------------------------------------------------------------- */

/* The noun synsets of a WordNet database directory (data.noun, index.noun) with their hypernym
 * (@) and instance-hypernym (@i) pointers. */
typedef struct xfer_wordnet xfer_wordnet;

int xfer_wordnet_open(const char *dir, xfer_wordnet **wn, xfer_err *err);
void xfer_wordnet_close(xfer_wordnet *wn);
/* Synset index of a lemma's sense (1 = first sense; lemma as in index.noun: lower-case, words
 * joined by '_'), -1 when absent. */
int xfer_wordnet_sense(const xfer_wordnet *wn, const char *lemma, int sense);
/* The 8-digit byte offset of a synset in data.noun (its WordNet id). */
long xfer_wordnet_offset(const xfer_wordnet *wn, int synset);
/* Shortest path length between two synsets through a common hypernym (0 for the same synset). */
int xfer_wordnet_distance(const xfer_wordnet *wn, int a, int b);
/* Maps a class display name to a synset by the rules of docs/wordvec.md (synonyms applied by the
 * caller); -1 when no rule finds it. */
int xfer_wordnet_class_synset(const xfer_wordnet *wn, const char *name);

#endif
