/* A small set of borrowed strings (no copies: the strings must outlive the set), in insertion
 * order until sorted; used to list the architectures and metrics present in a results file. */
#ifndef XFER_STRSET_H
#define XFER_STRSET_H

#include <stddef.h>

/* Appends s to v unless already there; returns 0, or -1 when out of memory. */
int xfer_strset_add(const char ***v, size_t *n, const char *s);
/* Sorts the set bytewise (strcmp). */
void xfer_strset_sort(const char **v, size_t n);

/* Strips leading blanks and trailing blanks and line ends of s in place; returns its new start. */
char *xfer_str_trim(char *s);

#endif
