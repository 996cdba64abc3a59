#include "common/sysfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool sysfs_path(char *buf, size_t cap, const char *root, const char *fmt, ...)
{
    int n = snprintf(buf, cap, "%s/", root);
    if (n < 0 || (size_t)n >= cap)
        return false;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(buf + n, cap - (size_t)n, fmt, ap);
    va_end(ap);
    return m >= 0 && (size_t)m < cap - (size_t)n;
}

int sysfs_read_text(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    /* One read: sysfs attributes are produced whole by the driver, and a
     * driver reporting a failed measurement does it as this read's error. */
    ssize_t n = read(fd, buf, cap - 1);
    int err = n < 0 ? errno : 0;
    close(fd);
    if (err)
        return err;
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    return 0;
}

int sysfs_read_long(const char *path, long *out)
{
    char text[64];
    int err = sysfs_read_text(path, text, sizeof text);
    if (err)
        return err;
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end != '\0')
        return EINVAL;
    *out = v;
    return 0;
}

int sysfs_write_text(const char *path, const char *text)
{
    /* O_TRUNC means nothing to sysfs, but keeps a plain file (a test tree)
     * holding exactly the value written. */
    int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0)
        return errno;
    size_t len = strlen(text);
    ssize_t n = write(fd, text, len);
    int err = n < 0 ? errno : ((size_t)n != len ? EIO : 0);
    if (close(fd) != 0 && !err)
        err = errno;
    return err;
}

int sysfs_write_long(const char *path, long value)
{
    char text[32];
    snprintf(text, sizeof text, "%ld\n", value);
    return sysfs_write_text(path, text);
}
