#include <stdlib.h>
#include <string.h>

#include "broker/mount.h"
#include "test.h"

static mqtt_bytes_t B(const char *s)
{
    return (mqtt_bytes_t){(const uint8_t *)s, strlen(s)};
}

#define CHECK_STR(buf, n, want)                                                                    \
    do {                                                                                           \
        CHECK_EQ_INT((n), strlen(want));                                                           \
        CHECK_MEM((buf), (want), (n));                                                             \
    } while (0)

TEST(topic_gets_the_prefix)
{
    char out[64];
    CHECK_EQ_INT(mount_size(2, B("t/1")), 5);
    size_t n = mount_topic("a/", 2, B("t/1"), out);
    CHECK_STR(out, n, "a/t/1");
    /* Plain concatenation, as Mosquitto: no separator is added. */
    n = mount_topic("pre", 3, B("fix"), out);
    CHECK_STR(out, n, "prefix");
    /* "$SYS/x" under a mount point is an ordinary topic. */
    n = mount_topic("a/", 2, B("$SYS/x"), out);
    CHECK_STR(out, n, "a/$SYS/x");
}

TEST(filters_keep_share_in_front)
{
    char out[64];
    size_t n = mount_filter("a/", 2, B("#"), out);
    CHECK_STR(out, n, "a/#");
    n = mount_filter("a/", 2, B("+/x"), out);
    CHECK_STR(out, n, "a/+/x");
    n = mount_filter("a/", 2, B("$share/g/s/#"), out);
    CHECK_STR(out, n, "$share/g/a/s/#");
    n = mount_filter("m/", 2, B("$share/group/#"), out);
    CHECK_STR(out, n, "$share/group/m/#");
    /* Not shared subscriptions: the prefix goes in front. */
    n = mount_filter("a/", 2, B("$share/"), out);
    CHECK_STR(out, n, "a/$share/");
    n = mount_filter("a/", 2, B("$share/g"), out);
    CHECK_STR(out, n, "a/$share/g");
    n = mount_filter("a/", 2, B("$sharex/g/f"), out);
    CHECK_STR(out, n, "a/$sharex/g/f");
    /* An empty filter part stays empty after the prefix: the tree refuses
     * "$share/g/" whatever it carries. */
    n = mount_filter("a/", 2, B("$share/g/"), out);
    CHECK_STR(out, n, "$share/g/a/");
}

TEST(strip_only_inside_the_mount_point)
{
    mqtt_bytes_t rest;
    CHECK(mount_strip("a/", 2, "a/x/1", 5, &rest));
    CHECK_EQ_INT(rest.len, 3);
    CHECK_MEM(rest.data, "x/1", 3);
    CHECK(!mount_strip("a/", 2, "a/", 2, &rest)); /* nothing left to show */
    CHECK(!mount_strip("a/", 2, "a", 1, &rest));  /* "a/#" matches "a" */
    CHECK(!mount_strip("a/", 2, "ab/x", 4, &rest));
    CHECK(!mount_strip("a/", 2, "b/a/x", 5, &rest));
    CHECK(mount_strip("pre", 3, "prefix", 6, &rest));
    CHECK_MEM(rest.data, "fix", 3);
}

TEST(length_limit)
{
    CHECK_EQ_INT(mount_size(2, (mqtt_bytes_t){NULL, 65533}), 65535);
    CHECK_EQ_INT(mount_size(2, (mqtt_bytes_t){NULL, 65534}), 0);
    CHECK_EQ_INT(mount_size(70000, (mqtt_bytes_t){NULL, 0}), 0);
}

TEST(round_trip)
{
    const char *topics[] = {"x", "x/y/z", "/lead", "trail/", "$SYS/a", "a//b"};
    char out[64];
    for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++) {
        size_t n = mount_topic("tenant/7/", 9, B(topics[i]), out);
        mqtt_bytes_t rest;
        CHECK(mount_strip("tenant/7/", 9, out, n, &rest));
        CHECK_EQ_INT(rest.len, strlen(topics[i]));
        CHECK_MEM(rest.data, topics[i], rest.len);
    }
}

int main(void)
{
    RUN(topic_gets_the_prefix);
    RUN(filters_keep_share_in_front);
    RUN(strip_only_inside_the_mount_point);
    RUN(length_limit);
    RUN(round_trip);
    return TEST_REPORT();
}
