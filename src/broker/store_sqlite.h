/*
 * The durable implementation of the store seam (store.h), on SQLite.
 */
#ifndef MIDGE_STORE_SQLITE_H
#define MIDGE_STORE_SQLITE_H

#include <stdbool.h>
#include <stddef.h>

#include "broker/store.h"

/* Opens (creating if needed) the database at path. With fsync_each every
 * call is synced to disk before it returns (survives power loss); without,
 * every call is committed to the OS before it returns (survives kill -9 of
 * the broker). NULL on failure, with the reason in err. */
store_t *store_sqlite_open(const char *path, bool fsync_each, char *err, size_t errlen);

#endif
