/*
 * Mosquitto password files ($6$ salted SHA-512, $7$ PBKDF2-SHA512) with
 * OpenSSL. See password.h for the format and the contracts.
 */
#include "broker/password.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define PASSWORD__MAX_LINE (64 * 1024)
#define PASSWORD__MAX_SALT 64

typedef struct {
    char *user;
    size_t user_len;
    password_hash_t type;
    int iterations;
    uint8_t salt[PASSWORD__MAX_SALT];
    size_t salt_len;
    uint8_t digest[PASSWORD_DIGEST_LEN];
    size_t order; /* line order, so that the last duplicate wins */
} password__entry_t;

struct password_db {
    atomic_int refs;
    password__entry_t *entries; /* sorted by user, unique */
    size_t count;
};

/* ---- base64 (standard alphabet, '=' padding, as OpenSSL's BIO writes) ---- */

static int password__b64_value(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+') {
        return 62;
    }
    if (c == '/') {
        return 63;
    }
    return -1;
}

/* Strict decode of s[0..len) into out; -1 on any malformation or overflow. */
static int password__b64_decode(const char *s, size_t len, uint8_t *out, size_t cap,
                                size_t *out_len)
{
    size_t pad = 0;
    while (len > 0 && s[len - 1] == '=' && pad < 2) {
        len--;
        pad++;
    }
    if (len == 0 || (len + pad) % 4 == 1 || (pad > 0 && (len + pad) % 4 != 0)) {
        return -1;
    }
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int v = password__b64_value(s[i]);
        if (v < 0) {
            return -1;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n >= cap) {
                return -1;
            }
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    *out_len = n;
    return 0;
}

static int password__b64_encode(const uint8_t *in, size_t len, char *out, size_t cap)
{
    size_t need = 4 * ((len + 2) / 3) + 1;
    if (need > cap || len > INT_MAX) {
        return -1;
    }
    EVP_EncodeBlock((unsigned char *)out, in, (int)len);
    return 0;
}

/* ---- hashes --------------------------------------------------------------- */

static int password__digest(password_hash_t type, int iterations, const uint8_t *salt,
                            size_t salt_len, const uint8_t *pass, size_t pass_len,
                            uint8_t out[PASSWORD_DIGEST_LEN])
{
    if (type == PASSWORD_HASH_SHA512_PBKDF2) {
        if (pass_len > INT_MAX || salt_len > INT_MAX || iterations < 1) {
            return -1;
        }
        return PKCS5_PBKDF2_HMAC((const char *)pass, (int)pass_len, salt, (int)salt_len, iterations,
                                 EVP_sha512(), PASSWORD_DIGEST_LEN, out) == 1
                   ? 0
                   : -1;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int n = 0;
    int ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha512(), NULL) == 1 &&
             EVP_DigestUpdate(ctx, pass, pass_len) == 1 &&
             EVP_DigestUpdate(ctx, salt, salt_len) == 1 && EVP_DigestFinal_ex(ctx, out, &n) == 1 &&
             n == PASSWORD_DIGEST_LEN;
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -1;
}

/* Parses "$6$salt$digest" / "$7$iter$salt$digest"; reason set on failure. */
static int password__parse_hash(const char *s, password__entry_t *e, const char **reason)
{
    if (s[0] != '$' || (s[1] != '6' && s[1] != '7') || s[2] != '$') {
        *reason = "password is not a $6$ or $7$ hash (plain-text passwords are refused; "
                  "convert the file with midge_passwd -U)";
        return -1;
    }
    e->type = s[1] == '6' ? PASSWORD_HASH_SHA512 : PASSWORD_HASH_SHA512_PBKDF2;
    const char *p = s + 3;
    e->iterations = 0;
    if (e->type == PASSWORD_HASH_SHA512_PBKDF2) {
        char *end = NULL;
        errno = 0;
        long it = strtol(p, &end, 10);
        if (end == p || *end != '$' || errno != 0 || it < 1 || it > PASSWORD_MAX_ITERATIONS ||
            *p == '-' || *p == '+') {
            *reason = "invalid PBKDF2 iteration count (1 to 10000000)";
            return -1;
        }
        e->iterations = (int)it;
        p = end + 1;
    }
    const char *dollar = strchr(p, '$');
    if (dollar == NULL) {
        *reason = "hash has no digest part";
        return -1;
    }
    if (password__b64_decode(p, (size_t)(dollar - p), e->salt, sizeof(e->salt), &e->salt_len) !=
        0) {
        *reason = "salt is not valid base64";
        return -1;
    }
    size_t dlen = 0;
    const char *digest = dollar + 1;
    if (password__b64_decode(digest, strlen(digest), e->digest, sizeof(e->digest), &dlen) != 0 ||
        dlen != PASSWORD_DIGEST_LEN) {
        *reason = "digest is not 64 bytes of base64";
        return -1;
    }
    return 0;
}

static bool password__entry_verify(const password__entry_t *e, const uint8_t *pass, size_t pass_len)
{
    static const uint8_t empty[1] = {0};
    if (pass == NULL) {
        pass = empty;
        pass_len = 0;
    }
    uint8_t got[PASSWORD_DIGEST_LEN];
    if (password__digest(e->type, e->iterations, e->salt, e->salt_len, pass, pass_len, got) != 0) {
        return false;
    }
    bool ok = CRYPTO_memcmp(got, e->digest, PASSWORD_DIGEST_LEN) == 0;
    OPENSSL_cleanse(got, sizeof(got));
    return ok;
}

bool password_hash_well_formed(const char *encoded)
{
    password__entry_t e;
    const char *reason;
    return password__parse_hash(encoded, &e, &reason) == 0;
}

bool password_hash_verify(const char *encoded, const uint8_t *pass, size_t pass_len)
{
    password__entry_t e;
    const char *reason;
    if (password__parse_hash(encoded, &e, &reason) != 0) {
        return false;
    }
    return password__entry_verify(&e, pass, pass_len);
}

int password_hash_encode_salt(password_hash_t type, int iterations, const uint8_t *salt,
                              size_t salt_len, const uint8_t *pass, size_t pass_len, char *out,
                              size_t outlen)
{
    uint8_t digest[PASSWORD_DIGEST_LEN];
    if (salt_len == 0 || salt_len > PASSWORD__MAX_SALT ||
        (type != PASSWORD_HASH_SHA512 && type != PASSWORD_HASH_SHA512_PBKDF2) ||
        password__digest(type, iterations, salt, salt_len, pass, pass_len, digest) != 0) {
        return -1;
    }
    char salt64[4 * ((PASSWORD__MAX_SALT + 2) / 3) + 1];
    char digest64[4 * ((PASSWORD_DIGEST_LEN + 2) / 3) + 1];
    if (password__b64_encode(salt, salt_len, salt64, sizeof(salt64)) != 0 ||
        password__b64_encode(digest, sizeof(digest), digest64, sizeof(digest64)) != 0) {
        return -1;
    }
    int n;
    if (type == PASSWORD_HASH_SHA512) {
        n = snprintf(out, outlen, "$6$%s$%s", salt64, digest64);
    } else {
        n = snprintf(out, outlen, "$7$%d$%s$%s", iterations, salt64, digest64);
    }
    return (n < 0 || (size_t)n >= outlen) ? -1 : 0;
}

int password_hash_encode(password_hash_t type, int iterations, const uint8_t *pass, size_t pass_len,
                         char *out, size_t outlen)
{
    uint8_t salt[PASSWORD_SALT_LEN];
    if (RAND_bytes(salt, sizeof(salt)) != 1) {
        return -1;
    }
    return password_hash_encode_salt(type, iterations, salt, sizeof(salt), pass, pass_len, out,
                                     outlen);
}

/* ---- the database ---------------------------------------------------------- */

static int password__cmp_user(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = memcmp(a, b, n);
    if (c != 0) {
        return c;
    }
    return alen < blen ? -1 : (alen > blen ? 1 : 0);
}

static int password__entry_cmp(const void *x, const void *y)
{
    const password__entry_t *a = x, *b = y;
    return password__cmp_user(a->user, a->user_len, b->user, b->user_len);
}

static int password__entry_order_cmp(const void *x, const void *y)
{
    const password__entry_t *a = x, *b = y;
    int c = password__entry_cmp(a, b);
    if (c != 0) {
        return c;
    }
    return a->order < b->order ? -1 : (a->order > b->order ? 1 : 0);
}

static void password__db_free(password_db_t *db)
{
    if (db == NULL) {
        return;
    }
    for (size_t i = 0; i < db->count; i++) {
        free(db->entries[i].user);
    }
    OPENSSL_cleanse(db->entries, db->count * sizeof(*db->entries));
    free(db->entries);
    free(db);
}

static int password__fail(char *err, size_t errlen, const char *path, int line, const char *fmt,
                          ...) __attribute__((format(printf, 5, 6)));

static int password__fail(char *err, size_t errlen, const char *path, int line, const char *fmt,
                          ...)
{
    int n = line > 0 ? snprintf(err, errlen, "%s:%d: ", path, line)
                     : snprintf(err, errlen, "%s: ", path);
    if (n >= 0 && (size_t)n < errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static char *password__trim(char *s)
{
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n')) {
        s[--n] = '\0';
    }
    return s;
}

/* One line; 1 = entry filled, 0 = nothing on it, -1 = error with reason. */
static int password__parse_line(char *line, password__entry_t *e, const char **reason)
{
    char *s = password__trim(line);
    if (*s == '\0' || *s == '#') {
        return 0;
    }
    char *colon = strchr(s, ':');
    if (colon == NULL) {
        *reason = "expected username:hash";
        return -1;
    }
    *colon = '\0';
    char *user = password__trim(s);
    char *hash = password__trim(colon + 1);
    if (*user == '\0') {
        *reason = "empty username";
        return -1;
    }
    if (password__parse_hash(hash, e, reason) != 0) {
        return -1;
    }
    e->user_len = strlen(user);
    e->user = strdup(user);
    if (e->user == NULL) {
        *reason = "out of memory";
        return -1;
    }
    return 1;
}

int password_db_load(const char *path, password_db_t **out, char *err, size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return password__fail(err, errlen, path, 0, "cannot open: %s", strerror(errno));
    }
    int rc = password_db_load_stream(f, path, out, err, errlen);
    fclose(f);
    return rc;
}

int password_db_load_stream(FILE *f, const char *path, password_db_t **out, char *err,
                            size_t errlen)
{
    *out = NULL;
    password_db_t *db = calloc(1, sizeof(*db));
    if (db == NULL) {
        return password__fail(err, errlen, path, 0, "out of memory");
    }
    atomic_init(&db->refs, 1);
    size_t cap = 0;
    char *buf = NULL;
    size_t bufcap = 0;
    ssize_t n;
    int line = 0;
    int rc = 0;
    while ((n = getline(&buf, &bufcap, f)) >= 0) {
        line++;
        if ((size_t)n > PASSWORD__MAX_LINE || (size_t)n != strlen(buf)) {
            rc = password__fail(err, errlen, path, line, "line too long or contains a NUL byte");
            break;
        }
        password__entry_t e;
        memset(&e, 0, sizeof(e));
        const char *reason = NULL;
        int r = password__parse_line(buf, &e, &reason);
        if (r < 0) {
            rc = password__fail(err, errlen, path, line, "%s", reason);
            break;
        }
        if (r == 0) {
            continue;
        }
        if (db->count == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            password__entry_t *grown = realloc(db->entries, ncap * sizeof(*grown));
            if (grown == NULL) {
                free(e.user);
                rc = password__fail(err, errlen, path, line, "out of memory");
                break;
            }
            db->entries = grown;
            cap = ncap;
        }
        e.order = db->count;
        db->entries[db->count++] = e;
    }
    if (rc == 0 && ferror(f)) {
        rc = password__fail(err, errlen, path, line, "read error");
    }
    if (buf != NULL) {
        OPENSSL_cleanse(buf, bufcap);
    }
    free(buf);
    if (rc != 0) {
        password__db_free(db);
        return -1;
    }
    if (db->count > 1) {
        /* Sort by (user, line order); of equal users keep the last line,
         * as Mosquitto does. */
        qsort(db->entries, db->count, sizeof(*db->entries), password__entry_order_cmp);
        size_t kept = 0;
        for (size_t i = 0; i < db->count; i++) {
            if (i + 1 < db->count &&
                password__entry_cmp(&db->entries[i], &db->entries[i + 1]) == 0) {
                free(db->entries[i].user);
                continue;
            }
            db->entries[kept++] = db->entries[i];
        }
        db->count = kept;
    }
    *out = db;
    return 0;
}

password_db_t *password_db_ref(password_db_t *db)
{
    if (db != NULL) {
        atomic_fetch_add(&db->refs, 1);
    }
    return db;
}

void password_db_unref(password_db_t *db)
{
    if (db != NULL && atomic_fetch_sub(&db->refs, 1) == 1) {
        password__db_free(db);
    }
}

size_t password_db_count(const password_db_t *db)
{
    return db != NULL ? db->count : 0;
}

static const password__entry_t *password__find(const password_db_t *db, const char *user,
                                               size_t user_len)
{
    size_t lo = 0, hi = db->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const password__entry_t *e = &db->entries[mid];
        int c = password__cmp_user(user, user_len, e->user, e->user_len);
        if (c == 0) {
            return e;
        }
        if (c < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return NULL;
}

bool password_check(const password_db_t *db, const char *user, size_t user_len, const uint8_t *pass,
                    size_t pass_len)
{
    const password__entry_t *e =
        db != NULL && user != NULL ? password__find(db, user, user_len) : NULL;
    if (e == NULL) {
        /* Spend what a default mosquitto_passwd entry costs, so the reply
         * time does not reveal that the user does not exist. */
        static const password__entry_t dummy = {
            .type = PASSWORD_HASH_SHA512_PBKDF2,
            .iterations = PASSWORD_DEFAULT_ITERATIONS,
            .salt_len = PASSWORD_SALT_LEN,
        };
        (void)password__entry_verify(&dummy, pass, pass_len);
        return false;
    }
    if (pass == NULL) {
        return false;
    }
    return password__entry_verify(e, pass, pass_len);
}
