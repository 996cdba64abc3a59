/* Scratch files for the config/password/ACL tests: one private directory
 * under the working directory, removed at the end. */
#ifndef MIDGE_TEST_FILES_H
#define MIDGE_TEST_FILES_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tf_dir[1024];

static inline void tf_setup(const char *prefix)
{
    char cwd[900];
    if (getcwd(cwd, sizeof(cwd)) == NULL) {
        abort();
    }
    snprintf(tf_dir, sizeof(tf_dir), "%s/%s.XXXXXX", cwd, prefix);
    if (mkdtemp(tf_dir) == NULL) {
        abort();
    }
}

static inline char *tf_path(const char *rel)
{
    size_t n = strlen(tf_dir) + 1 + strlen(rel) + 1;
    char *p = malloc(n);
    if (p == NULL) {
        abort();
    }
    snprintf(p, n, "%s/%s", tf_dir, rel);
    return p;
}

/* Writes text to <dir>/rel; returns the absolute path (free it). */
static inline char *tf_write(const char *rel, const char *text)
{
    char *p = tf_path(rel);
    FILE *f = fopen(p, "w");
    if (f == NULL) {
        abort();
    }
    fputs(text, f);
    fclose(f);
    return p;
}

static inline char *tf_mkdir(const char *rel)
{
    char *p = tf_path(rel);
    mkdir(p, 0700);
    return p;
}

static inline int tf_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static inline void tf_cleanup(void)
{
    nftw(tf_dir, tf_rm, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
