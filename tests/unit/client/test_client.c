/* libmidge without a network peer: properties, strings, argument checks,
 * the offline queue bound. */
#include <stdlib.h>
#include <string.h>

#include "midge/client.h"
#include "test.h"

TEST(strerror_covers_every_error)
{
    for (int e = 0; e < MIDGE_ERR_COUNT; e++) {
        const char *s = midge_strerror((midge_err_t)e);
        CHECK(s && *s && strcmp(s, "unknown error") != 0);
    }
    CHECK(!strcmp(midge_strerror(MIDGE_ERR_COUNT), "unknown error"));
    CHECK(!strcmp(midge_strerror((midge_err_t)-1), "unknown error"));
}

TEST(connack_strings_match_mosquitto)
{
    CHECK(!strcmp(midge_connack_string(4, 5), "Connection Refused: not authorised."));
    CHECK(!strcmp(midge_connack_string(3, 4), "Connection Refused: bad user name or password."));
    CHECK(
        !strcmp(midge_connack_string(4, 1), "Connection Refused: unacceptable protocol version."));
    CHECK(!strcmp(midge_connack_string(4, 77), "Connection Refused: unknown reason."));
    CHECK(!strcmp(midge_connack_string(5, 0x87), "Not authorized"));
    CHECK(!strcmp(midge_connack_string(5, 0x86), "Bad User Name or Password"));
    CHECK(!strcmp(midge_reason_string(0x81), "Malformed Packet"));
    CHECK(!strcmp(midge_reason_string(0x03), "Unknown reason"));
    CHECK(!strcmp(midge_reason_string(0xA1), "Subscription identifiers not supported"));
}

TEST(props_build_and_read)
{
    midge_props_t *p = midge_props_new();
    CHECK(p);
    CHECK_EQ_INT(midge_props_add_user(p, "k1", "v1"), MIDGE_OK);
    CHECK_EQ_INT(midge_props_add_user(p, "k1", "v2"), MIDGE_OK);
    CHECK_EQ_INT(midge_props_add_string(p, MIDGE_PROP_CONTENT_TYPE, "text/plain"), MIDGE_OK);
    CHECK_EQ_INT(midge_props_add_string(p, MIDGE_PROP_CONTENT_TYPE, "a/b"), MIDGE_OK);
    CHECK_EQ_INT(midge_props_add_binary(p, MIDGE_PROP_CORRELATION_DATA, "\0\1\2", 3), MIDGE_OK);
    CHECK_EQ_INT(midge_props_add_int(p, MIDGE_PROP_MESSAGE_EXPIRY_INTERVAL, 30), MIDGE_OK);
    CHECK_EQ_INT(midge_props_count(p), 5);
    midge_prop_t pr;
    CHECK(midge_props_get(p, 1, &pr));
    CHECK(pr.id == MIDGE_PROP_USER_PROPERTY && !strcmp(pr.data, "k1") && !strcmp(pr.value, "v2"));
    CHECK(midge_props_find(p, MIDGE_PROP_CONTENT_TYPE, &pr));
    CHECK(!strcmp(pr.data, "a/b") && pr.len == 3);
    CHECK(midge_props_find(p, MIDGE_PROP_CORRELATION_DATA, &pr));
    CHECK(pr.len == 3 && !memcmp(pr.data, "\0\1\2", 3));
    CHECK(!midge_props_find(p, MIDGE_PROP_RESPONSE_TOPIC, &pr));
    CHECK(!midge_props_get(p, 5, &pr));
    midge_props_t *q = midge_props_copy(p);
    midge_props_free(p);
    CHECK(q && midge_props_count(q) == 5);
    CHECK(midge_props_find(q, MIDGE_PROP_MESSAGE_EXPIRY_INTERVAL, &pr) && pr.num == 30);
    midge_props_free(q);
    midge_props_free(NULL);
    CHECK_EQ_INT(midge_props_count(NULL), 0);
}

TEST(props_reject_bad_values)
{
    midge_props_t *p = midge_props_new();
    CHECK(p);
    CHECK_EQ_INT(midge_props_add_int(p, MIDGE_PROP_PAYLOAD_FORMAT_INDICATOR, 2), MIDGE_ERR_INVAL);
    CHECK_EQ_INT(midge_props_add_int(p, MIDGE_PROP_RECEIVE_MAXIMUM, 0), MIDGE_ERR_INVAL);
    CHECK_EQ_INT(midge_props_add_int(p, MIDGE_PROP_RECEIVE_MAXIMUM, 70000), MIDGE_ERR_INVAL);
    CHECK_EQ_INT(midge_props_add_int(p, MIDGE_PROP_CONTENT_TYPE, 1), MIDGE_ERR_INVAL);
    CHECK_EQ_INT(midge_props_add_int(p, 0x7F, 1), MIDGE_ERR_INVAL);
    CHECK_EQ_INT(midge_props_add_string(p, MIDGE_PROP_SESSION_EXPIRY_INTERVAL, "x"),
                 MIDGE_ERR_INVAL);
    CHECK_EQ_INT(midge_props_add_string(p, MIDGE_PROP_CONTENT_TYPE, "\xff\xfe"), MIDGE_ERR_INVAL);
    CHECK_EQ_INT(midge_props_add_user(p, "ok", "\xc0\x80"), MIDGE_ERR_INVAL);
    CHECK_EQ_INT(midge_props_add_user(p, NULL, "x"), MIDGE_ERR_INVAL);
    CHECK_EQ_INT(midge_props_count(p), 0);
    CHECK(midge_prop_name(MIDGE_PROP_CORRELATION_DATA) &&
          !strcmp(midge_prop_name(MIDGE_PROP_CORRELATION_DATA), "correlation-data"));
    CHECK(midge_prop_name(0x7F) == NULL);
    midge_props_free(p);
}

TEST(arguments_are_checked)
{
    midge_client_t *c = midge_client_new("unit", NULL);
    CHECK(c);
    int mid = 0;
    CHECK_EQ_INT(midge_set_version(c, 6), MIDGE_ERR_INVAL);
    CHECK_EQ_INT(midge_set_keepalive(c, 70000), MIDGE_ERR_INVAL);
    CHECK_EQ_INT(midge_publish(c, &mid, "a/+", "x", 1, 0, false, NULL), MIDGE_ERR_INVAL);
    CHECK_EQ_INT(midge_publish(c, &mid, "", "x", 1, 0, false, NULL), MIDGE_ERR_INVAL);
    CHECK_EQ_INT(midge_publish(c, &mid, "a", "x", 1, 3, false, NULL), MIDGE_ERR_INVAL);
    CHECK_EQ_INT(midge_publish(c, &mid, "a", NULL, 1, 0, false, NULL), MIDGE_ERR_INVAL);
    CHECK_EQ_INT(midge_subscribe(c, &mid, "a/#/b", 0, NULL), MIDGE_ERR_INVAL);
    CHECK_EQ_INT(midge_subscribe(c, &mid, "a", 3, NULL), MIDGE_ERR_INVAL);
    CHECK_EQ_INT(midge_set_will(c, "w/#", "x", 1, 0, false, NULL), MIDGE_ERR_INVAL);
    CHECK_EQ_INT(midge_connect(c, "", 1883), MIDGE_ERR_INVAL);
    CHECK_EQ_INT(midge_connect(c, "localhost", 0), MIDGE_ERR_INVAL);
    CHECK_EQ_INT(midge_disconnect(c), MIDGE_ERR_NO_CONN);
    CHECK_EQ_INT(midge_step(c), MIDGE_ERR_NO_CONN);
    CHECK_EQ_INT(midge_socket(c), -1);
    CHECK_EQ_INT(midge_timeout_ms(c), -1);
    /* A property the packet does not allow. */
    midge_props_t *p = midge_props_new();
    CHECK(p);
    CHECK_EQ_INT(midge_props_add_int(p, MIDGE_PROP_SESSION_EXPIRY_INTERVAL, 5), MIDGE_OK);
    CHECK_EQ_INT(midge_set_version(c, 5), MIDGE_OK);
    CHECK_EQ_INT(midge_publish(c, &mid, "a", "x", 1, 0, false, p), MIDGE_ERR_INVAL);
    CHECK_EQ_INT(midge_set_will(c, "w", "x", 1, 0, false, p), MIDGE_ERR_INVAL);
    CHECK_EQ_INT(midge_set_connect_props(c, p), MIDGE_OK);
    midge_props_free(p);
    midge_tls_t tls = {.cafile = "/nonexistent/ca.pem"};
    CHECK_EQ_INT(midge_set_tls(c, &tls), MIDGE_ERR_TLS);
    char err[256];
    midge_last_error(c, err, sizeof(err));
    CHECK(strstr(err, "/nonexistent/ca.pem") != NULL);
    midge_tls_t badver = {.tls_version = "sslv3"};
    CHECK_EQ_INT(midge_set_tls(c, &badver), MIDGE_ERR_INVAL);
    midge_client_destroy(c);
}

TEST(offline_queue_is_bounded)
{
    midge_client_t *c = midge_client_new("unit", NULL);
    CHECK(c);
    CHECK_EQ_INT(midge_set_queue_limits(c, 0, 10), MIDGE_ERR_INVAL);
    CHECK_EQ_INT(midge_set_queue_limits(c, 10, 1 << 20), MIDGE_OK);
    int mid = 0, prev = 0;
    for (int i = 0; i < 10; i++) {
        CHECK_EQ_INT(midge_publish(c, &mid, "q/t", "payload", 7, i % 3, false, NULL), MIDGE_OK);
        CHECK(mid != prev && mid > 0);
        prev = mid;
    }
    CHECK_EQ_INT(midge_queued_count(c), 10);
    CHECK_EQ_INT(midge_publish(c, &mid, "q/t", "payload", 7, 1, false, NULL), MIDGE_ERR_QUEUE_FULL);
    CHECK_EQ_INT(midge_queued_count(c), 10);
    midge_client_destroy(c);

    c = midge_client_new("unit", NULL);
    CHECK(c);
    CHECK_EQ_INT(midge_set_queue_limits(c, 100, 1000), MIDGE_OK);
    static char big[600];
    CHECK_EQ_INT(midge_publish(c, &mid, "q", big, sizeof(big), 1, false, NULL), MIDGE_OK);
    CHECK_EQ_INT(midge_publish(c, &mid, "q", big, sizeof(big), 1, false, NULL),
                 MIDGE_ERR_QUEUE_FULL);
    midge_client_destroy(c);
}

TEST(connect_failure_is_immediate_and_named)
{
    midge_client_t *c = midge_client_new("unit", NULL);
    CHECK(c);
    CHECK_EQ_INT(midge_connect(c, "no-such-host.invalid", 1883), MIDGE_ERR_DNS);
    char err[256];
    midge_last_error(c, err, sizeof(err));
    CHECK(strstr(err, "no-such-host.invalid") != NULL);
    CHECK_EQ_INT(midge_step(c), MIDGE_ERR_NO_CONN);
    midge_client_destroy(c);
}

int main(void)
{
    RUN(strerror_covers_every_error);
    RUN(connack_strings_match_mosquitto);
    RUN(props_build_and_read);
    RUN(props_reject_bad_values);
    RUN(arguments_are_checked);
    RUN(offline_queue_is_bounded);
    RUN(connect_failure_is_immediate_and_named);
    return TEST_REPORT();
}
