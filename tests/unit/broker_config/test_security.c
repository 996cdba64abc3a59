/* security_t: the allow_anonymous/password_file rules as Mosquitto 2.0
 * applies them, per_listener_settings scopes, certificate identities. */
#include "broker/config.h"
#include "broker/security.h"
#include "test.h"
#include "test_files.h"

#include <stdlib.h>
#include <string.h>

/* "secret" as $7$ (fixed vector, see test_password.c). */
#define ALICE                                                                                      \
    "alice:$7$101$bWlkZ2Utc2FsdDEy$REisqgo+9E7fFt3pWoMM9Ge1If8tNO1GnxJbA8ItmuCH9I1YmvtgxyztlWk4zr" \
    "CfGC4BkDX48KIJZrXHZRBPLw==\n"

static char err[512];

static security_t *load(const char *conf_text, config_t *cfg)
{
    char *path = tf_write("sec.conf", conf_text);
    int rc = config_load(cfg, path, err, sizeof(err), NULL, NULL);
    free(path);
    if (rc != 0) {
        fprintf(stderr, "config: %s\n", err);
        return NULL;
    }
    security_t *s = security_load(cfg, err, sizeof(err));
    config_free(cfg);
    return s;
}

static bool auth(const security_t *s, size_t l, const char *user, const char *pass)
{
    security_creds_t c = {user, user ? strlen(user) : 0, (const uint8_t *)pass,
                          pass ? strlen(pass) : 0, NULL};
    return security_authenticate(s, l, &c);
}

static char conf[8192];

static const char *with_dir(const char *fmt)
{
    snprintf(conf, sizeof(conf), fmt, tf_dir, tf_dir, tf_dir, tf_dir);
    return conf;
}

TEST(no_password_file)
{
    config_t cfg;
    security_t *s = load("listener 1883\nallow_anonymous true\n", &cfg);
    CHECK(s != NULL);
    CHECK(auth(s, 0, NULL, NULL));
    CHECK(auth(s, 0, "foo", "bar"));
    CHECK(!auth(s, 1, NULL, NULL));
    CHECK(security_acl(s, 0) == NULL);
    /* An unknown listener fails closed. */
    CHECK(security_acl(s, 7) == acl_deny_all());
    CHECK(!acl_check(security_acl(s, 7), "c", NULL, "a", 1, ACL_READ));
    CHECK_EQ_INT(security_listener_count(s), 1);
    CHECK(security_allow_zero_length_clientid(s, 0));
    CHECK(strcmp(security_auto_id_prefix(s, 0), "auto-") == 0);
    security_unref(s);

    s = load("listener 1883\n", &cfg);
    CHECK(s != NULL);
    CHECK(!auth(s, 0, NULL, NULL));
    CHECK(!auth(s, 0, "foo", "bar"));
    security_unref(s);

    /* No listener: loopback only, anonymous allowed. */
    s = load("\n", &cfg);
    CHECK(s != NULL);
    CHECK(auth(s, 0, NULL, NULL));
    security_unref(s);
}

TEST(password_file_rules)
{
    free(tf_write("pw", ALICE));
    config_t cfg;
    security_t *s = load(with_dir("listener 1883\npassword_file %s/pw\n"), &cfg);
    CHECK(s != NULL);
    CHECK(auth(s, 0, "alice", "secret"));
    CHECK(!auth(s, 0, "alice", "wrong"));
    CHECK(!auth(s, 0, "alice", NULL));
    CHECK(!auth(s, 0, "bob", "secret"));
    CHECK(!auth(s, 0, NULL, NULL));
    security_unref(s);

    s = load(with_dir("listener 1883\npassword_file %s/pw\nallow_anonymous true\n"), &cfg);
    CHECK(s != NULL);
    CHECK(auth(s, 0, NULL, NULL));
    CHECK(auth(s, 0, "alice", "secret"));
    CHECK(!auth(s, 0, "bob", "x"));
    security_unref(s);
}

TEST(per_listener_scopes)
{
    free(tf_write("pw", ALICE));
    free(tf_write("acl", "user alice\ntopic read a/#\n"));
    config_t cfg;
    security_t *s = load(with_dir("per_listener_settings true\n"
                                  "listener 1883 127.0.0.1\nallow_anonymous true\n"
                                  "auto_id_prefix local-\n"
                                  "listener 8883\npassword_file %s/pw\nacl_file %s/acl\n"
                                  "allow_zero_length_clientid false\n"),
                         &cfg);
    CHECK(s != NULL);
    CHECK(auth(s, 0, NULL, NULL));
    CHECK(!auth(s, 1, NULL, NULL));
    CHECK(auth(s, 1, "alice", "secret"));
    CHECK(security_acl(s, 0) == NULL);
    const acl_t *acl = security_acl(s, 1);
    CHECK(acl != NULL);
    CHECK(acl_check(acl, "c", "alice", "a/b", 3, ACL_READ));
    CHECK(!acl_check(acl, "c", "alice", "b/b", 3, ACL_READ));
    CHECK(strcmp(security_auto_id_prefix(s, 0), "local-") == 0);
    CHECK(security_allow_zero_length_clientid(s, 0));
    CHECK(!security_allow_zero_length_clientid(s, 1));
    /* The snapshot outlives a reference taken before the owner drops it. */
    security_t *ref = security_ref(s);
    security_unref(s);
    CHECK(auth(ref, 1, "alice", "secret"));
    security_unref(ref);
}

TEST(certificate_identity)
{
    free(tf_write("pw", ALICE));
    config_t cfg;
    security_t *s = load(with_dir("listener 8883\ncertfile c\nkeyfile k\ncafile ca\n"
                                  "require_certificate true\nuse_identity_as_username true\n"
                                  "password_file %s/pw\n"),
                         &cfg);
    CHECK(s != NULL);
    CHECK(security_identity_is_username(s, 0));
    security_creds_t c = {NULL, 0, NULL, 0, "device-7"};
    CHECK(security_authenticate(s, 0, &c));
    c.cert_identity = NULL;
    CHECK(!security_authenticate(s, 0, &c));
    security_unref(s);
}

TEST(load_errors)
{
    config_t cfg;
    free(tf_write("badpw", "alice:plain\n"));
    free(tf_write("badacl", "user\n"));
    CHECK(load(with_dir("listener 1883\npassword_file %s/badpw\n"), &cfg) == NULL);
    CHECK(strstr(err, "/badpw:1: ") != NULL);
    CHECK(load(with_dir("listener 1883\nacl_file %s/badacl\n"), &cfg) == NULL);
    CHECK(strstr(err, "/badacl:1: user needs a username") != NULL);
    CHECK(load(with_dir("listener 1883\npassword_file %s/missing\n"), &cfg) == NULL);
    CHECK(strstr(err, "/missing: cannot open") != NULL);
}

int main(void)
{
    tf_setup("sectest");
    RUN(no_password_file);
    RUN(password_file_rules);
    RUN(per_listener_scopes);
    RUN(certificate_identity);
    RUN(load_errors);
    tf_cleanup();
    return TEST_REPORT();
}
