/* Password files: fixed $6$/$7$ vectors (computed independently with
 * Python's hashlib), encode/verify round trips, file errors with file:line,
 * duplicates, reference counting. */
#include "broker/password.h"
#include "test.h"
#include "test_files.h"

#include <stdlib.h>
#include <string.h>

#define SALT "bWlkZ2Utc2FsdDEy" /* base64 of "midge-salt12" */

static const struct {
    const char *pass;
    const char *hash;
} vectors[] = {
    {"secret", "$6$" SALT "$ZHAcGQKnx92pui0Tf7NNFqltitDE1pfIsjWiG8jgw2tQ/mW9i//12HY3LBNkvVQBrNBOXwl"
               "r6BdaZ3VfUXME5w=="},
    {"secret", "$7$101$" SALT "$REisqgo+9E7fFt3pWoMM9Ge1If8tNO1GnxJbA8ItmuCH9I1YmvtgxyztlWk4zrCfGC4"
               "BkDX48KIJZrXHZRBPLw=="},
    {"secret", "$7$1000$" SALT "$gv26cR9+gOr67HVa6Ueuc9wYc/VE/kUKgDZ1WIxXhH6e+hHlPATSwgOqc3NEx59xej"
               "EKIorI588+zAo7fwisZQ=="},
    {"",
     "$6$" SALT "$f8/O70oPJoYRzuZGKCIKullMqY42r1P7vEzgoFfDxeJsa350lRCEYZCI/FttYNjz1RbsCfVZFX5qcH"
     "Ny1zN/1A=="},
    {"", "$7$101$" SALT "$VojqmIjsjFx4H0xSNEwqP5uJDQqCzfXg8yOInw4rrmQFFd3EshvuAFKH5ojOmW6+DIGvIZBcv"
         "quB81vAiTbZDA=="},
    {"p\xc3\xa4ss:word with spaces",
     "$6$" SALT
     "$axY3p8dtD6m4xBbHchpRafTJ0IQbaSvXGrEueYg83yuRrBLxflD3IqcRpOm5ahJPk3bo8n/k5goDovjTQ0"
     "b4Yw=="},
    {"p\xc3\xa4ss:word with spaces",
     "$7$101$" SALT
     "$8Hg/R7rTWT1z7W7enyCXuCxd2nY2N+aJCQ98Tyw37nO8hIjJNSgGr1F/1cLpm19lLWkE0qvD7Gm4Tr"
     "A3lKDvUg=="},
};

static const uint8_t *u8(const char *s)
{
    return (const uint8_t *)s;
}

TEST(fixed_vectors_verify)
{
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        const char *p = vectors[i].pass;
        CHECK(password_hash_well_formed(vectors[i].hash));
        CHECK(password_hash_verify(vectors[i].hash, u8(p), strlen(p)));
        CHECK(!password_hash_verify(vectors[i].hash, u8("wrong"), 5));
        char longer[64];
        snprintf(longer, sizeof(longer), "%sx", p);
        CHECK(!password_hash_verify(vectors[i].hash, u8(longer), strlen(longer)));
    }
}

TEST(encode_with_salt_reproduces_vectors)
{
    char out[PASSWORD_ENCODED_MAX];
    const uint8_t *salt = u8("midge-salt12");
    CHECK_EQ_INT(password_hash_encode_salt(PASSWORD_HASH_SHA512, 0, salt, 12, u8("secret"), 6, out,
                                           sizeof(out)),
                 0);
    CHECK(strcmp(out, vectors[0].hash) == 0);
    CHECK_EQ_INT(password_hash_encode_salt(PASSWORD_HASH_SHA512_PBKDF2, 101, salt, 12, u8("secret"),
                                           6, out, sizeof(out)),
                 0);
    CHECK(strcmp(out, vectors[1].hash) == 0);
    CHECK_EQ_INT(password_hash_encode_salt(PASSWORD_HASH_SHA512_PBKDF2, 1000, salt, 12,
                                           u8("secret"), 6, out, sizeof(out)),
                 0);
    CHECK(strcmp(out, vectors[2].hash) == 0);
    /* Too small an output buffer fails instead of truncating. */
    CHECK_EQ_INT(
        password_hash_encode_salt(PASSWORD_HASH_SHA512, 0, salt, 12, u8("secret"), 6, out, 40), -1);
}

TEST(random_salts_round_trip)
{
    char a[PASSWORD_ENCODED_MAX], b[PASSWORD_ENCODED_MAX];
    CHECK_EQ_INT(password_hash_encode(PASSWORD_HASH_SHA512_PBKDF2, PASSWORD_DEFAULT_ITERATIONS,
                                      u8("pw"), 2, a, sizeof(a)),
                 0);
    CHECK_EQ_INT(password_hash_encode(PASSWORD_HASH_SHA512_PBKDF2, PASSWORD_DEFAULT_ITERATIONS,
                                      u8("pw"), 2, b, sizeof(b)),
                 0);
    CHECK(strncmp(a, "$7$101$", 7) == 0);
    CHECK(strcmp(a, b) != 0);
    CHECK(password_hash_verify(a, u8("pw"), 2) && password_hash_verify(b, u8("pw"), 2));
    CHECK_EQ_INT(password_hash_encode(PASSWORD_HASH_SHA512, 0, u8("pw"), 2, a, sizeof(a)), 0);
    CHECK(strncmp(a, "$6$", 3) == 0 && strlen(a) == 3 + 16 + 1 + 88);
    CHECK(password_hash_verify(a, u8("pw"), 2));
    /* Binary passwords (MQTT allows any bytes). */
    const uint8_t bin[] = {0, 1, 2, 0xff, 0};
    CHECK_EQ_INT(password_hash_encode(PASSWORD_HASH_SHA512, 0, bin, sizeof(bin), a, sizeof(a)), 0);
    CHECK(password_hash_verify(a, bin, sizeof(bin)));
    CHECK(!password_hash_verify(a, bin, sizeof(bin) - 1));
}

TEST(malformed_hashes)
{
    static const char *bad[] = {
        "plain",
        "$5$abc$def",
        "$6$",
        "$6$" SALT,
        "$6$" SALT "$short==",
        "$6$!!!$ZHAcGQKnx92pui0Tf7NNFqltitDE1pfIsjWiG8jgw2tQ/mW9i//"
        "12HY3LBNkvVQBrNBOXwlr6BdaZ3VfUXME5w==",
        "$7$0$" SALT
        "$REisqgo+9E7fFt3pWoMM9Ge1If8tNO1GnxJbA8ItmuCH9I1YmvtgxyztlWk4zrCfGC4BkDX48KIJZrX"
        "HZRBPLw==",
        "$7$-5$" SALT
        "$REisqgo+9E7fFt3pWoMM9Ge1If8tNO1GnxJbA8ItmuCH9I1YmvtgxyztlWk4zrCfGC4BkDX48KIJZr"
        "XHZRBPLw==",
        "$7$abc$" SALT "$x",
        "$7$99999999999$" SALT
        "$REisqgo+9E7fFt3pWoMM9Ge1If8tNO1GnxJbA8ItmuCH9I1YmvtgxyztlWk4zrCfGC4"
        "BkDX48KIJZrXHZRBPLw==",
        "$6$" SALT
        "$ZHAcGQKnx92pui0Tf7NNFqltitDE1pfIsjWiG8jgw2tQ/mW9i//12HY3LBNkvVQBrNBOXwlr6BdaZ3VfU"
        "XME5w=",
        "$6$" SALT
        "$ZHAcGQKnx92pui0Tf7NNFqltitDE1pfIsjWiG8jgw2tQ/mW9i//12HY3LBNkvVQBrNBOXwlr6BdaZ3VfU"
        "XME5w==AA",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (password_hash_well_formed(bad[i])) {
            fprintf(stderr, "accepted: %s\n", bad[i]);
            CHECK(0);
        }
        CHECK(!password_hash_verify(bad[i], u8("secret"), 6));
    }
}

static password_db_t *load(const char *text, char *err, size_t errlen)
{
    char *path = tf_write("pwfile", text);
    password_db_t *db = NULL;
    if (password_db_load(path, &db, err, errlen) != 0) {
        db = NULL;
    }
    free(path);
    return db;
}

TEST(load_and_check)
{
    char text[2048], err[256];
    snprintf(text, sizeof(text), "# users\n\nalice:%s\n  bob : %s  \r\ncarol:%s\n", vectors[1].hash,
             vectors[0].hash, vectors[5].hash);
    password_db_t *db = load(text, err, sizeof(err));
    CHECK(db != NULL);
    CHECK_EQ_INT(password_db_count(db), 3);
    CHECK(password_check(db, "alice", 5, u8("secret"), 6));
    CHECK(!password_check(db, "alice", 5, u8("Secret"), 6));
    CHECK(!password_check(db, "alice", 5, NULL, 0));
    CHECK(password_check(db, "bob", 3, u8("secret"), 6));
    CHECK(password_check(db, "carol", 5, u8(vectors[5].pass), strlen(vectors[5].pass)));
    CHECK(!password_check(db, "dave", 4, u8("secret"), 6));
    CHECK(!password_check(db, "alic", 4, u8("secret"), 6));
    CHECK(!password_check(db, "alicex", 6, u8("secret"), 6));
    CHECK(!password_check(db, NULL, 0, u8("secret"), 6));
    /* The username is (pointer, length), not NUL-terminated. */
    CHECK(password_check(db, "alice-and-more", 5, u8("secret"), 6));
    CHECK(!password_check(NULL, "alice", 5, u8("secret"), 6));
    password_db_t *ref = password_db_ref(db);
    CHECK(ref == db);
    password_db_unref(db);
    CHECK(password_check(ref, "alice", 5, u8("secret"), 6));
    password_db_unref(ref);
}

TEST(duplicate_user_last_wins)
{
    char text[2048], err[256];
    snprintf(text, sizeof(text), "u:%s\nv:%s\nu:%s\n", vectors[3].hash, vectors[0].hash,
             vectors[1].hash);
    password_db_t *db = load(text, err, sizeof(err));
    CHECK(db != NULL);
    CHECK_EQ_INT(password_db_count(db), 2);
    CHECK(password_check(db, "u", 1, u8("secret"), 6));
    CHECK(!password_check(db, "u", 1, u8(""), 0));
    password_db_unref(db);
}

TEST(empty_file_has_no_users)
{
    char err[256];
    password_db_t *db = load("", err, sizeof(err));
    CHECK(db != NULL);
    CHECK_EQ_INT(password_db_count(db), 0);
    CHECK(!password_check(db, "a", 1, u8("b"), 1));
    password_db_unref(db);
}

TEST(errors_name_file_and_line)
{
    static const struct {
        const char *text;
        int line;
        const char *reason;
    } cases[] = {
        {"a:plaintext\n", 1, "not a $6$ or $7$ hash"},
        {"# c\nnocolon\n", 2, "expected username:hash"},
        {"\n\n:$6$x$y\n", 3, "empty username"},
        {"a:$7$0$" SALT "$x\n", 1, "iteration count"},
        {"a:$7$10000001$" SALT "$x\n", 1, "iteration count"},
        {"a:$6$" SALT "\n", 1, "no digest"},
        {"a:$6$@@@@$abcd\n", 1, "salt is not valid base64"},
        {"a:$6$" SALT "$abcd\n", 1, "digest is not 64 bytes"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[256] = "";
        CHECK(load(cases[i].text, err, sizeof(err)) == NULL);
        char want[32];
        snprintf(want, sizeof(want), "/pwfile:%d: ", cases[i].line);
        if (strstr(err, want) == NULL || strstr(err, cases[i].reason) == NULL) {
            fprintf(stderr, "case %zu: got '%s'\n", i, err);
            CHECK(0);
        }
    }
    char err[256];
    password_db_t *db = NULL;
    CHECK_EQ_INT(password_db_load("no/such/pwfile", &db, err, sizeof(err)), -1);
    CHECK(db == NULL);
    CHECK(strncmp(err, "no/such/pwfile: cannot open", 27) == 0);
}

int main(void)
{
    tf_setup("pwtest");
    RUN(fixed_vectors_verify);
    RUN(encode_with_salt_reproduces_vectors);
    RUN(random_salts_round_trip);
    RUN(malformed_hashes);
    RUN(load_and_check);
    RUN(duplicate_user_last_wins);
    RUN(empty_file_has_no_users);
    RUN(errors_name_file_and_line);
    tf_cleanup();
    return TEST_REPORT();
}
