/* Lock and atomic publication helpers shared by the writer handle and merge (internal). */
#ifndef XFER_IO_RESULTS_FILE_H
#define XFER_IO_RESULTS_FILE_H

#include <hdf5.h>

#include "xfer/error.h"

/* Takes an exclusive non-blocking flock on path.lock; *fd_out to pass to rf_unlock. */
int rf_lock(const char *path, int *fd_out, xfer_err *err);
void rf_unlock(int fd);
/* Creates (truncating) an HDF5 file at tmp with strong close semantics; < 0 on failure. */
hid_t rf_create_h5(const char *tmp);
/* Closes f, fsyncs tmp (when durable), renames it over path (and fsyncs the directory). Unlinks
 * tmp on error. */
int rf_publish(hid_t f, const char *tmp, const char *path, int durable, xfer_err *err);

#endif
