/*
 * Mosquitto password files: one "username:hash" per line, the hash being
 *   $6$<salt>$<digest>              SHA-512(password || salt)
 *   $7$<iterations>$<salt>$<digest> PBKDF2-HMAC-SHA512(password, salt, iterations)
 * with salt and digest in standard base64 (mosquitto_passwd uses a 12-byte
 * salt and a 64-byte digest). Lines starting with '#' and blank lines are
 * skipped; blanks around user and hash are ignored. Plain-text passwords
 * are refused (Mosquitto 2.0 drops such lines).
 *
 * A loaded password_db_t is immutable and reference counted: the broker
 * loads a new one on SIGHUP and swaps the pointer; clients checking against
 * the old one keep it alive until they drop their reference.
 */
#ifndef MIDGE_BROKER_PASSWORD_H
#define MIDGE_BROKER_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct password_db password_db_t;

typedef enum { PASSWORD_HASH_SHA512 = 6, PASSWORD_HASH_SHA512_PBKDF2 = 7 } password_hash_t;

/* mosquitto_passwd's defaults: PBKDF2 with 101 iterations, 12-byte salt. */
#define PASSWORD_DEFAULT_ITERATIONS 101
#define PASSWORD_SALT_LEN           12
#define PASSWORD_DIGEST_LEN         64
/* More iterations than this are refused: each login would hold a worker
 * thread for seconds. */
#define PASSWORD_MAX_ITERATIONS 10000000
/* Longest encoded hash: "$7$" + 10 digits + "$" + base64 of up to 64 salt
 * bytes + "$" + base64 of 64 bytes, and a NUL. */
#define PASSWORD_ENCODED_MAX 200

/*
 * Reads a password file into a new database (reference count 1). Returns 0,
 * or -1 with "file:line: reason" (or "file: reason") in err. Unlike
 * Mosquitto, which logs and drops a malformed line, any malformed line
 * refuses the whole file: a typo must not silently lock a user out or
 * leave a stale password working. A user listed twice: the last line wins,
 * as in Mosquitto.
 */
int password_db_load(const char *path, password_db_t **out, char *err, size_t errlen);

/* The same from an open stream; `path` only names it in messages. */
int password_db_load_stream(FILE *f, const char *path, password_db_t **out, char *err,
                            size_t errlen);

/* Takes / drops a reference; thread-safe. The last unref frees the db. */
password_db_t *password_db_ref(password_db_t *db);
void password_db_unref(password_db_t *db);

/* Number of users. */
size_t password_db_count(const password_db_t *db);

/*
 * True when `user` is in db and `pass` is its password. Username and
 * password are (pointer, length): MQTT passwords are binary data. The
 * digest comparison is constant-time, and an unknown user costs a hash
 * computation too, so timing does not tell which users exist.
 */
bool password_check(const password_db_t *db, const char *user, size_t user_len, const uint8_t *pass,
                    size_t pass_len);

/*
 * Encodes a new hash of `pass` with a random salt into out (at least
 * PASSWORD_ENCODED_MAX bytes). iterations is used for PBKDF2 only (>= 1).
 * Returns 0, or -1 when the random source or OpenSSL fails.
 */
int password_hash_encode(password_hash_t type, int iterations, const uint8_t *pass, size_t pass_len,
                         char *out, size_t outlen);

/* Same with a given salt, for tests and reproducible vectors. */
int password_hash_encode_salt(password_hash_t type, int iterations, const uint8_t *salt,
                              size_t salt_len, const uint8_t *pass, size_t pass_len, char *out,
                              size_t outlen);

/*
 * True when `encoded` (the part after "user:") is a well-formed hash of
 * `pass`. Returns false for malformed input.
 */
bool password_hash_verify(const char *encoded, const uint8_t *pass, size_t pass_len);

/* True when `encoded` is a well-formed $6$ or $7$ hash. */
bool password_hash_well_formed(const char *encoded);

#endif
