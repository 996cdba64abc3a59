/*
 * The configuration reader on arbitrary files: it must never crash, leak or
 * read past a line, and it must either load (then free cleanly) or fail with
 * a message that names the file, as the broker prints it at start and on
 * SIGHUP. The input is handed over as a memfd, so the reader goes through
 * the same open/read path as for a real file; include_dir lines may read
 * real directories, which only adds coverage.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "broker/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void quiet(void *ctx, config_level_t level, const char *msg)
{
    (void)ctx;
    (void)level;
    if (msg == NULL || msg[0] == '\0')
        abort(); /* every warning says something */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz.conf", 0);
    if (fd < 0)
        return 0;
    if (size > 0 && write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    config_t cfg;
    char err[512] = "";
    if (config_load(&cfg, path, err, sizeof(err), quiet, NULL) == 0) {
        if (cfg.listener_count == 0)
            abort(); /* the implicit listener is always there */
        config_free(&cfg);
    } else if (strncmp(err, path, strlen(path)) != 0) {
        abort(); /* an error that does not say where */
    }
    close(fd);
    return 0;
}
