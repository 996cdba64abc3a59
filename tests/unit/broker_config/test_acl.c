/* ACL files: parsing and errors, read/write/deny decisions, patterns with
 * %c and %u, the '$' rules, and the SUBSCRIBE filter check. */
#include "broker/acl.h"
#include "test.h"
#include "test_files.h"

#include <stdlib.h>
#include <string.h>

static acl_t *load(const char *text, char *err, size_t errlen)
{
    char *path = tf_write("aclfile", text);
    acl_t *acl = NULL;
    if (acl_load(path, &acl, err, errlen) != 0) {
        acl = NULL;
    }
    free(path);
    return acl;
}

static bool can(const acl_t *acl, const char *cid, const char *user, const char *topic, int access)
{
    return acl_check(acl, cid, user, topic, strlen(topic), access);
}

static bool sub(const acl_t *acl, const char *cid, const char *user, const char *filter)
{
    return acl_check_subscribe(acl, cid, user, filter, strlen(filter));
}

static const char *main_acl = "# anonymous clients\n"
                              "topic read public/#\n"
                              "topic readwrite anon/+\n"
                              "\n"
                              "user alice\n"
                              "topic alice/#\n"
                              "topic deny alice/secret/#\n"
                              "topic write sensors/+/data\n"
                              "topic read $SYS/#\n"
                              "topic read spaced topic/x\n"
                              "user bob smith\n"
                              "topic read #\n"
                              "user alice\n"
                              "topic read shared/#\n"
                              "pattern readwrite clients/%c/#\n"
                              "pattern read users/%u/#\n"
                              "pattern deny clients/%c/private\n"
                              "pattern write dev-%c/out\n";

TEST(no_acl_allows_all_but_sys_writes)
{
    CHECK(can(NULL, "c", NULL, "a/b", ACL_READ));
    CHECK(can(NULL, "c", "u", "a/b", ACL_WRITE));
    CHECK(can(NULL, "c", "u", "$SYS/broker/uptime", ACL_READ));
    CHECK(!can(NULL, "c", "u", "$SYS/broker/uptime", ACL_WRITE));
    CHECK(!can(NULL, "c", "u", "$SYS", ACL_WRITE));
    CHECK(can(NULL, "c", "u", "$SYSTEM/x", ACL_WRITE));
    CHECK(sub(NULL, "c", NULL, "#"));
    CHECK(!can(NULL, "c", "u", "", ACL_READ));
}

TEST(anonymous_section)
{
    char err[256];
    acl_t *acl = load(main_acl, err, sizeof(err));
    CHECK(acl != NULL);
    CHECK(can(acl, "c", NULL, "public/news", ACL_READ));
    CHECK(!can(acl, "c", NULL, "public/news", ACL_WRITE));
    CHECK(can(acl, "c", NULL, "anon/x", ACL_WRITE));
    CHECK(!can(acl, "c", NULL, "anon/x/y", ACL_WRITE));
    CHECK(!can(acl, "c", NULL, "alice/x", ACL_READ));
    /* A user without a section does not get the anonymous rules. */
    CHECK(!can(acl, "c", "carol", "public/news", ACL_READ));
    acl_unref(acl);
}

TEST(user_rules_and_deny)
{
    char err[256];
    acl_t *acl = load(main_acl, err, sizeof(err));
    CHECK(acl != NULL);
    CHECK(can(acl, "c", "alice", "alice/a/b", ACL_READ | ACL_WRITE));
    CHECK(can(acl, "c", "alice", "alice", ACL_WRITE));
    CHECK(!can(acl, "c", "alice", "alice/secret/k", ACL_READ));
    CHECK(!can(acl, "c", "alice", "alice/secret", ACL_WRITE));
    CHECK(can(acl, "c", "alice", "sensors/1/data", ACL_WRITE));
    CHECK(!can(acl, "c", "alice", "sensors/1/data", ACL_READ));
    CHECK(can(acl, "c", "alice", "$SYS/broker/load", ACL_READ));
    CHECK(!can(acl, "c", "alice", "$SYS/broker/load", ACL_WRITE));
    CHECK(can(acl, "c", "alice", "spaced topic/x", ACL_READ));
    /* The second "user alice" section merged into the first. */
    CHECK(can(acl, "c", "alice", "shared/z", ACL_READ));
    /* Usernames may contain spaces; "#" does not reach '$' topics. */
    CHECK(can(acl, "c", "bob smith", "any/thing", ACL_READ));
    CHECK(!can(acl, "c", "bob smith", "any/thing", ACL_WRITE));
    CHECK(!can(acl, "c", "bob smith", "$SYS/x", ACL_READ));
    CHECK(!can(acl, "c", "bob", "any/thing", ACL_READ));
    acl_unref(acl);
}

TEST(patterns)
{
    char err[256];
    acl_t *acl = load(main_acl, err, sizeof(err));
    CHECK(acl != NULL);
    CHECK(can(acl, "dev1", "carol", "clients/dev1/x", ACL_READ | ACL_WRITE));
    CHECK(!can(acl, "dev1", "carol", "clients/dev2/x", ACL_READ));
    CHECK(!can(acl, "dev1", "carol", "clients/dev1/private", ACL_READ));
    CHECK(can(acl, "dev1", "carol", "users/carol/inbox", ACL_READ));
    CHECK(!can(acl, "dev1", "carol", "users/carol/inbox", ACL_WRITE));
    CHECK(can(acl, "dev1", "carol", "dev-dev1/out", ACL_WRITE));
    /* Patterns apply to anonymous clients too, but not those with %u. */
    CHECK(can(acl, "dev1", NULL, "clients/dev1/x", ACL_WRITE));
    CHECK(!can(acl, "dev1", NULL, "users//inbox", ACL_READ));
    /* User rules decide before patterns: alice's own deny is final. */
    CHECK(can(acl, "alice-c", "alice", "clients/alice-c/x", ACL_READ));
    /* Client ids or usernames with wildcards or '/' get nothing from patterns. */
    CHECK(!can(acl, "a+", "carol", "clients/a+/x", ACL_READ));
    CHECK(!can(acl, "#", "carol", "clients/#", ACL_READ));
    CHECK(!can(acl, "dev1", "car#ol", "clients/dev1/x", ACL_READ));
    CHECK(!can(acl, "victim/x", "carol", "clients/victim/x/y", ACL_READ));
    CHECK(!can(acl, "dev1", "carol/x", "users/carol/x/y", ACL_READ));
    /* ...but their own user rules still apply. */
    CHECK(can(acl, "a+", "alice", "alice/x", ACL_READ));
    acl_unref(acl);
}

TEST(long_pattern_substitution)
{
    char err[256];
    acl_t *acl = load("pattern readwrite %c/%c/%c/%c/%u\n", err, sizeof(err));
    CHECK(acl != NULL);
    char cid[300], topic[1600];
    memset(cid, 'k', sizeof(cid) - 1);
    cid[sizeof(cid) - 1] = '\0';
    snprintf(topic, sizeof(topic), "%s/%s/%s/%s/u", cid, cid, cid, cid);
    CHECK(can(acl, cid, "u", topic, ACL_WRITE));
    CHECK(!can(acl, cid, "v", topic, ACL_WRITE));
    CHECK(sub(acl, cid, "u", topic));
    acl_unref(acl);
}

TEST(empty_acl_denies_everything)
{
    char err[256];
    acl_t *acl = load("# nothing\n", err, sizeof(err));
    CHECK(acl != NULL);
    CHECK(!can(acl, "c", NULL, "a", ACL_READ));
    CHECK(!can(acl, "c", "u", "a", ACL_WRITE));
    CHECK(!sub(acl, "c", "u", "#"));
    acl_unref(acl);
}

TEST(filter_relations)
{
#define OV(a, b) acl_filters_overlap(a, strlen(a), b, strlen(b))
#define CO(a, b) acl_filter_covers(a, strlen(a), b, strlen(b))
    CHECK(OV("a/#", "a"));
    CHECK(OV("a", "a/#"));
    CHECK(OV("#", "x/y"));
    CHECK(OV("a/+/c", "a/b/+"));
    CHECK(OV("+/+", "a/b"));
    CHECK(!OV("+/+", "a"));
    CHECK(!OV("a/b", "a/c"));
    CHECK(!OV("a/b", "a/b/c"));
    CHECK(!OV("#", "$SYS/#"));
    CHECK(OV("$SYS/#", "$SYS/broker/+"));
    CHECK(OV("a//b", "a/+/b"));
    CHECK(!OV("a//b", "a/x/b"));
    CHECK(CO("#", "a/b/#"));
    CHECK(CO("a/#", "a"));
    CHECK(CO("a/#", "a/#"));
    CHECK(CO("a/+", "a/b"));
    CHECK(CO("a/+", "a/+"));
    CHECK(!CO("a/+", "a/#"));
    CHECK(!CO("a/+", "a/b/c"));
    CHECK(!CO("a/b", "a/+"));
    CHECK(!CO("a/+/#", "a"));
    CHECK(CO("a/+/#", "a/b"));
    CHECK(!CO("#", "$SYS/x"));
    CHECK(CO("$SYS/#", "$SYS/x"));
    CHECK(!CO("a", "a/b"));
#undef OV
#undef CO
}

TEST(subscribe_filters)
{
    char err[256];
    acl_t *acl = load(main_acl, err, sizeof(err));
    CHECK(acl != NULL);
    CHECK(sub(acl, "c", "alice", "alice/#"));
    CHECK(sub(acl, "c", "alice", "alice/+/x"));
    CHECK(!sub(acl, "c", "alice", "alice/secret/#"));
    CHECK(!sub(acl, "c", "alice", "alice/secret/x"));
    CHECK(sub(acl, "c", "alice", "#"));
    CHECK(sub(acl, "c", "alice", "$SYS/#"));
    CHECK(!sub(acl, "c", "alice", "other/#"));
    /* Write-only rules do not make a filter readable. */
    CHECK(!sub(acl, "c", "alice", "sensors/1/data"));
    CHECK(sub(acl, "c", "alice", "$share/g/alice/x"));
    CHECK(!sub(acl, "c", "alice", "$share/g/other/x"));
    CHECK(!sub(acl, "c", "bob smith", "$SYS/#"));
    CHECK(sub(acl, "c", NULL, "public/+"));
    CHECK(!sub(acl, "c", NULL, "private/+"));
    /* Patterns. */
    CHECK(sub(acl, "c1", "carol", "clients/c1/#"));
    CHECK(sub(acl, "c1", "carol", "clients/+/x"));
    CHECK(!sub(acl, "c1", "carol", "clients/c2/#"));
    CHECK(!sub(acl, "c1", "carol", "clients/c1/private"));
    CHECK(sub(acl, "c1", "carol", "users/carol/#"));
    CHECK(!sub(acl, "c1", NULL, "users/+/#"));
    CHECK(!sub(acl, "c/1", "carol", "clients/c/1/#"));
    /* ACL_SUBSCRIBE through acl_check. */
    CHECK(can(acl, "c", "alice", "alice/#", ACL_SUBSCRIBE));
    CHECK(!can(acl, "c", "alice", "alice/secret/#", ACL_SUBSCRIBE));
    acl_unref(acl);
}

TEST(errors_name_file_and_line)
{
    static const struct {
        const char *text;
        int line;
        const char *reason;
    } cases[] = {
        {"topic\n", 1, "topic needs a topic"},
        {"# c\npattern\n", 2, "pattern needs a topic"},
        {"topic bogus a/b\n", 1, "invalid access type"},
        {"topic read a/#/b\n", 1, "invalid topic filter"},
        {"topic read a+\n", 1, "invalid topic filter"},
        {"\n\nuser\n", 3, "user needs a username"},
        {"user a\nfoo bar\n", 2, "expected topic, pattern or user"},
        {"topic read $share//x\n", 1, "invalid topic filter"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[256] = "";
        CHECK(load(cases[i].text, err, sizeof(err)) == NULL);
        char want[32];
        snprintf(want, sizeof(want), "/aclfile:%d: ", cases[i].line);
        if (strstr(err, want) == NULL || strstr(err, cases[i].reason) == NULL) {
            fprintf(stderr, "case %zu: got '%s'\n", i, err);
            CHECK(0);
        }
    }
    char err[256];
    acl_t *acl = NULL;
    CHECK_EQ_INT(acl_load("no/such/acl", &acl, err, sizeof(err)), -1);
    CHECK(strncmp(err, "no/such/acl: cannot open", 24) == 0);
}

TEST(topic_without_access_word)
{
    char err[256];
    acl_t *acl = load("topic read\ntopic   a/b  \n", err, sizeof(err));
    CHECK(acl != NULL);
    /* "topic read" alone is the topic "read" with readwrite access. */
    CHECK(can(acl, "c", NULL, "read", ACL_WRITE));
    CHECK(can(acl, "c", NULL, "a/b", ACL_READ | ACL_WRITE));
    acl_unref(acl);
}

int main(void)
{
    tf_setup("acltest");
    RUN(no_acl_allows_all_but_sys_writes);
    RUN(anonymous_section);
    RUN(user_rules_and_deny);
    RUN(patterns);
    RUN(long_pattern_substitution);
    RUN(empty_acl_denies_everything);
    RUN(filter_relations);
    RUN(subscribe_filters);
    RUN(errors_name_file_and_line);
    RUN(topic_without_access_word);
    tf_cleanup();
    return TEST_REPORT();
}
