/*
 * Small helpers for Linux sysfs attribute files. Every path is taken
 * relative to a root (normally "/sys") so that tests can point the examples
 * at a fake tree in a temporary directory.
 */
#ifndef MIDGE_EXAMPLES_SYSFS_H
#define MIDGE_EXAMPLES_SYSFS_H

#include <stdbool.h>
#include <stddef.h>

/* root + "/" + rel, formatted; false if it does not fit. */
bool sysfs_path(char *buf, size_t cap, const char *root, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Reads a file holding one integer (sysfs style, trailing newline).
 * Returns 0, or an errno value (EIO, ETIMEDOUT, ENOENT, EINVAL ...). */
int sysfs_read_long(const char *path, long *out);
/* Reads a short text attribute, newline stripped. 0 or an errno value. */
int sysfs_read_text(const char *path, char *buf, size_t cap);
/* Writes text to an attribute in one write. 0 or an errno value. */
int sysfs_write_text(const char *path, const char *text);
int sysfs_write_long(const char *path, long value);

#endif
