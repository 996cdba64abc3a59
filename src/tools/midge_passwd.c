/*
 * midge_passwd: manages Mosquitto-format password files, with the flags of
 * mosquitto_passwd. Files it writes are read by Mosquitto and the reverse.
 *
 * The file is rewritten through a temporary file in the same directory and
 * renamed over the original (mode and, as root, owner kept), so a broker
 * reloading on SIGHUP never reads half a file.
 */
#include "broker/password.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#define PASSWD_MAX_LEN 65535

typedef struct {
    char **lines; /* without their newline */
    size_t count, cap;
} lines_t;

static void usage(FILE *out)
{
    fprintf(out,
            "midge_passwd manages password files for midge (and Mosquitto).\n\n"
            "Usage: midge_passwd [-H sha512 | -H sha512-pbkdf2] [-I iterations] [-c | -D] "
            "passwordfile username\n"
            "       midge_passwd [-H sha512 | -H sha512-pbkdf2] [-I iterations] [-c] -b "
            "passwordfile username password\n"
            "       midge_passwd [-H ...] [-I iterations] -U passwordfile\n"
            " -b : batch mode: the password is the last argument.\n"
            " -c : create a new password file, overwriting an existing one.\n"
            " -D : delete the user instead of adding or updating it.\n"
            " -H : hash: sha512-pbkdf2 (default, recommended) or sha512.\n"
            " -I : PBKDF2 iterations (default %d).\n"
            " -U : hash every plain-text password of an existing file.\n",
            PASSWORD_DEFAULT_ITERATIONS);
}

static int lines_push(lines_t *l, char *line)
{
    if (l->count == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 16;
        char **grown = realloc(l->lines, ncap * sizeof(*grown));
        if (grown == NULL) {
            return -1;
        }
        l->lines = grown;
        l->cap = ncap;
    }
    l->lines[l->count++] = line;
    return 0;
}

static void lines_free(lines_t *l)
{
    for (size_t i = 0; i < l->count; i++) {
        if (l->lines[i] != NULL) {
            OPENSSL_cleanse(l->lines[i], strlen(l->lines[i]));
            free(l->lines[i]);
        }
    }
    free(l->lines);
}

static int read_lines(const char *path, lines_t *out)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "Error: Unable to open password file %s: %s.\n", path, strerror(errno));
        return -1;
    }
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    while ((n = getline(&buf, &cap, f)) >= 0) {
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) {
            buf[--n] = '\0';
        }
        char *copy = strdup(buf);
        if (copy == NULL || lines_push(out, copy) != 0) {
            free(copy);
            fprintf(stderr, "Error: Out of memory.\n");
            rc = -1;
            break;
        }
    }
    free(buf);
    fclose(f);
    return rc;
}

/* Length of the username part of a line, or 0 for comments/blank lines. */
static size_t line_user(const char *line, const char **user)
{
    while (*line == ' ' || *line == '\t') {
        line++;
    }
    if (*line == '#' || *line == '\0') {
        return 0;
    }
    const char *colon = strchr(line, ':');
    size_t n = colon != NULL ? (size_t)(colon - line) : strlen(line);
    while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t')) {
        n--;
    }
    *user = line;
    return n;
}

static bool line_is_user(const char *line, const char *user)
{
    const char *u;
    size_t n = line_user(line, &u);
    return n > 0 && n == strlen(user) && memcmp(u, user, n) == 0;
}

static int write_lines(const char *path, const lines_t *l, bool create)
{
    char real[PATH_MAX];
    struct stat st;
    bool exists = stat(path, &st) == 0;
    const char *target = path;
    if (exists && realpath(path, real) != NULL) {
        target = real;
    }
    size_t tlen = strlen(target) + 16;
    char *tmp = malloc(tlen);
    if (tmp == NULL) {
        fprintf(stderr, "Error: Out of memory.\n");
        return -1;
    }
    snprintf(tmp, tlen, "%s.tmp-XXXXXX", target);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        fprintf(stderr, "Error: Unable to write %s: %s.\n", path, strerror(errno));
        free(tmp);
        return -1;
    }
    if (exists && !create) {
        (void)fchmod(fd, st.st_mode & 07777);
        if (geteuid() == 0) {
            (void)fchown(fd, st.st_uid, st.st_gid);
        }
    } else {
        /* A new file gets what mosquitto_passwd gives it (0666 less the
         * umask), so a broker running as another user can read it. */
        mode_t mask = umask(0);
        umask(mask);
        (void)fchmod(fd, 0666 & ~mask);
    }
    FILE *f = fdopen(fd, "w");
    int rc = f != NULL ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < l->count; i++) {
        if (l->lines[i] != NULL && fprintf(f, "%s\n", l->lines[i]) < 0) {
            rc = -1;
        }
    }
    if (f != NULL) {
        if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
            rc = -1;
        }
        if (fclose(f) != 0) {
            rc = -1;
        }
    } else {
        close(fd);
    }
    if (rc == 0 && rename(tmp, target) != 0) {
        rc = -1;
    }
    if (rc != 0) {
        fprintf(stderr, "Error: Unable to write %s: %s.\n", path, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    return rc;
}

static int check_username(const char *user)
{
    size_t n = strlen(user);
    if (n == 0) {
        fprintf(stderr, "Error: Empty username.\n");
        return -1;
    }
    if (n > PASSWD_MAX_LEN) {
        fprintf(stderr, "Error: Username too long.\n");
        return -1;
    }
    if (strchr(user, ':') != NULL) {
        fprintf(stderr, "Error: Username must not contain the ':' character.\n");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)user[i] < 0x20 || user[i] == 0x7f) {
            fprintf(stderr, "Error: Username must not contain control characters.\n");
            return -1;
        }
    }
    if (user[0] == '#' || user[0] == ' ' || user[0] == '\t' || user[n - 1] == ' ' ||
        user[n - 1] == '\t') {
        fprintf(stderr, "Error: Username must not start with '#' or start or end with a blank.\n");
        return -1;
    }
    return 0;
}

/* Reads one line from stdin, without echo when stdin is a terminal. */
static int read_password(const char *prompt, char *buf, size_t len)
{
    struct termios old, quiet;
    bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
    fprintf(stderr, "%s", prompt);
    fflush(stderr);
    if (tty) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        quiet.c_lflag |= ECHONL;
        tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    }
    char *got = fgets(buf, (int)len, stdin);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSANOW, &old);
    } else {
        fprintf(stderr, "\n");
    }
    if (got == NULL) {
        buf[0] = '\0';
        return -1;
    }
    size_t n = strlen(buf);
    if (n > 0 && buf[n - 1] == '\n') {
        buf[--n] = '\0';
    } else if (n == len - 1) {
        fprintf(stderr, "Error: Password too long.\n");
        return -1;
    }
    if (n > 0 && buf[n - 1] == '\r') {
        buf[--n] = '\0';
    }
    return 0;
}

static int prompt_password(char *buf, size_t len)
{
    char *again = malloc(len);
    if (again == NULL) {
        return -1;
    }
    int rc = 0;
    if (read_password("Password: ", buf, len) != 0 || buf[0] == '\0') {
        if (buf[0] == '\0') {
            fprintf(stderr, "Error: Empty password.\n");
        }
        rc = -1;
    } else if (read_password("Reenter password: ", again, len) != 0 || strcmp(buf, again) != 0) {
        fprintf(stderr, "Error: Passwords do not match.\n");
        rc = -1;
    }
    OPENSSL_cleanse(again, len);
    free(again);
    return rc;
}

static char *make_line(const char *user, const char *pass, password_hash_t type, int iterations)
{
    char hash[PASSWORD_ENCODED_MAX];
    if (password_hash_encode(type, iterations, (const uint8_t *)pass, strlen(pass), hash,
                             sizeof(hash)) != 0) {
        fprintf(stderr, "Error: Unable to hash the password.\n");
        return NULL;
    }
    size_t n = strlen(user) + 1 + strlen(hash) + 1;
    char *line = malloc(n);
    if (line == NULL) {
        fprintf(stderr, "Error: Out of memory.\n");
        return NULL;
    }
    snprintf(line, n, "%s:%s", user, hash);
    return line;
}

/* Sets user's line (the first match; later duplicates go) or appends it. */
static int set_user(lines_t *l, const char *user, char *line)
{
    bool done = false;
    for (size_t i = 0; i < l->count; i++) {
        if (l->lines[i] != NULL && line_is_user(l->lines[i], user)) {
            free(l->lines[i]);
            l->lines[i] = done ? NULL : line;
            done = true;
        }
    }
    if (!done && lines_push(l, line) != 0) {
        free(line);
        fprintf(stderr, "Error: Out of memory.\n");
        return -1;
    }
    return 0;
}

static int delete_user(lines_t *l, const char *user)
{
    bool found = false;
    for (size_t i = 0; i < l->count; i++) {
        if (l->lines[i] != NULL && line_is_user(l->lines[i], user)) {
            free(l->lines[i]);
            l->lines[i] = NULL;
            found = true;
        }
    }
    if (!found) {
        fprintf(stderr, "Warning: User %s not found in password file.\n", user);
        return -1;
    }
    return 0;
}

/* -U: hashes "user:plaintext" lines; lines already hashed stay as they are,
 * so running it twice is harmless. */
static int upgrade(lines_t *l, password_hash_t type, int iterations)
{
    for (size_t i = 0; i < l->count; i++) {
        char *s = l->lines[i];
        const char *u;
        size_t ulen = line_user(s, &u);
        if (ulen == 0) {
            continue;
        }
        char *colon = strchr(s, ':');
        if (colon == NULL) {
            fprintf(stderr, "Error: Corrupt password file at line %zu.\n", i + 1);
            return -1;
        }
        if (password_hash_well_formed(colon + 1)) {
            continue;
        }
        char *user = strndup(u, ulen);
        if (user == NULL) {
            return -1;
        }
        char *line = make_line(user, colon + 1, type, iterations);
        free(user);
        if (line == NULL) {
            return -1;
        }
        OPENSSL_cleanse(s, strlen(s));
        free(s);
        l->lines[i] = line;
    }
    return 0;
}

int main(int argc, char **argv)
{
    bool create = false, delete = false, batch = false, update = false;
    password_hash_t type = PASSWORD_HASH_SHA512_PBKDF2;
    int iterations = PASSWORD_DEFAULT_ITERATIONS;
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-c") == 0) {
            create = true;
        } else if (strcmp(a, "-D") == 0) {
            delete = true;
        } else if (strcmp(a, "-b") == 0) {
            batch = true;
        } else if (strcmp(a, "-U") == 0) {
            update = true;
        } else if (strcmp(a, "-H") == 0 && i + 1 < argc) {
            const char *h = argv[++i];
            if (strcmp(h, "sha512") == 0) {
                type = PASSWORD_HASH_SHA512;
            } else if (strcmp(h, "sha512-pbkdf2") == 0) {
                type = PASSWORD_HASH_SHA512_PBKDF2;
            } else {
                fprintf(stderr, "Error: Unknown hash type '%s' (sha512 or sha512-pbkdf2).\n", h);
                return 1;
            }
        } else if (strcmp(a, "-I") == 0 && i + 1 < argc) {
            char *end = NULL;
            errno = 0;
            long n = strtol(argv[++i], &end, 10);
            if (errno != 0 || end == argv[i] || *end != '\0' || n < 1) {
                fprintf(stderr, "Error: Number of iterations must be > 0.\n");
                return 1;
            }
            if (n > PASSWORD_MAX_ITERATIONS) {
                fprintf(stderr, "Error: At most %d iterations.\n", PASSWORD_MAX_ITERATIONS);
                return 1;
            }
            iterations = (int)n;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 1;
        }
    }
    int positional = argc - i;
    if (create && delete) {
        fprintf(stderr, "Error: -c and -D cannot be used together.\n");
        return 1;
    }
    if (update && (create || delete || batch)) {
        fprintf(stderr, "Error: -U cannot be used with -c, -D or -b.\n");
        return 1;
    }
    if (delete &&batch) {
        fprintf(stderr, "Error: -D and -b cannot be used together.\n");
        return 1;
    }
    int want = update ? 1 : (batch ? 3 : 2);
    if (positional != want) {
        usage(stderr);
        return 1;
    }
    const char *path = argv[i];
    lines_t lines = {0};
    int rc = 0;
    if (!create && read_lines(path, &lines) != 0) {
        return 1;
    }
    if (update) {
        rc = upgrade(&lines, type, iterations);
    } else {
        const char *user = argv[i + 1];
        if (check_username(user) != 0) {
            rc = -1;
        } else if (delete) {
            rc = delete_user(&lines, user);
        } else {
            char *pass = malloc(PASSWD_MAX_LEN + 2);
            if (pass == NULL) {
                rc = -1;
            } else if (batch) {
                if (strlen(argv[i + 2]) > PASSWD_MAX_LEN) {
                    fprintf(stderr, "Error: Password too long.\n");
                    rc = -1;
                } else if (argv[i + 2][0] == '\0') {
                    fprintf(stderr, "Error: Empty password.\n");
                    rc = -1;
                } else {
                    strcpy(pass, argv[i + 2]);
                }
            } else {
                rc = prompt_password(pass, PASSWD_MAX_LEN + 2);
            }
            if (rc == 0) {
                char *line = make_line(user, pass, type, iterations);
                rc = line != NULL ? set_user(&lines, user, line) : -1;
            }
            if (pass != NULL) {
                OPENSSL_cleanse(pass, PASSWD_MAX_LEN + 2);
                free(pass);
            }
        }
    }
    if (rc == 0) {
        rc = write_lines(path, &lines, create);
    }
    lines_free(&lines);
    return rc == 0 ? 0 : 1;
}
