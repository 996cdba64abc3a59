/*
 * Host program the integration tests (tests/integration/test_lite_*.py)
 * drive: midge-lite over the POSIX transport, steered by a command list.
 *
 *   lite_client_test -p PORT [-i ID] [-k KEEPALIVE] [-u USER] [-P PASS]
 *                    [-w TOPIC MSG QOS] [-b BUFSIZE] CMD...
 *   connect CLEAN | sub FILTER QOS | pub TOPIC QOS MSG | pubn TOPIC QOS N
 *   recv N SECONDS (check_msg until N messages in all) | waitmsg N (wait_msg) | idle SECONDS
 *   drain SECONDS | setid N | ping | disconnect | abort | pause | reconnect ATTEMPTS DELAY_MS
 *
 * Prints one line per message ("MSG topic payload") and per command
 * ("OK cmd rc"); exits 1 on the first failing command.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lite/midge_lite.h"
#include "lite/midge_lite_posix.h"

static int received;

static void on_msg(void *user, const char *topic, size_t tlen, const uint8_t *msg, size_t len)
{
    (void)user;
    printf("MSG %.*s %.*s\n", (int)tlen, topic, (int)len, (const char *)msg);
    fflush(stdout);
    received++;
}

static void done(const char *cmd, int rc)
{
    printf("%s %s %d\n", rc < 0 ? "ERR" : "OK", cmd, rc);
    fflush(stdout);
    if (rc < 0)
        exit(1);
}

static void need(int argc, int i, int n)
{
    if (i + n >= argc) {
        fprintf(stderr, "missing arguments\n");
        exit(2);
    }
}

int main(int argc, char **argv)
{
    static uint8_t tx[70000], rx[70000];
    midge_lite_posix_t sock = {"127.0.0.1", 1883, -1};
    midge_lite_transport_t tr;
    midge_lite_config_t cfg = {0};
    midge_lite_t c;
    const char *will_topic = NULL, *will_msg = NULL;
    int will_qos = 0, i, rc;
    midge_lite_posix_transport(&tr, &sock);
    cfg.transport = &tr;
    cfg.clock = midge_lite_posix_clock;
    cfg.tx_buf = tx;
    cfg.rx_buf = rx;
    cfg.tx_cap = cfg.rx_cap = 4096;
    cfg.client_id = "lite";
    cfg.timeout_ms = 5000;
#if MIDGE_LITE_V5
    cfg.session_expiry = 300;
#endif
    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        need(argc, i, 1);
        switch (argv[i][1]) {
        case 'p':
            sock.port = (uint16_t)atoi(argv[++i]);
            break;
        case 'i':
            cfg.client_id = argv[++i];
            break;
        case 'k':
            cfg.keepalive = (uint16_t)atoi(argv[++i]);
            break;
        case 'u':
            cfg.user = argv[++i];
            break;
        case 'P':
            cfg.password = argv[++i];
            break;
        case 'b':
            cfg.tx_cap = cfg.rx_cap = (uint16_t)atoi(argv[++i]);
            break;
        case 'w':
            need(argc, i, 3);
            will_topic = argv[i + 1];
            will_msg = argv[i + 2];
            will_qos = atoi(argv[i + 3]);
            i += 3;
            break;
        default:
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    done("init", midge_lite_init(&c, &cfg));
    midge_lite_set_callback(&c, on_msg, NULL);
    if (will_topic)
        done("will", midge_lite_set_last_will(&c, will_topic, (const uint8_t *)will_msg,
                                              strlen(will_msg), 0, will_qos));
    for (; i < argc; i++) {
        const char *cmd = argv[i];
        if (!strcmp(cmd, "connect")) {
            need(argc, i, 1);
            done(cmd, midge_lite_connect(&c, atoi(argv[++i])));
        } else if (!strcmp(cmd, "sub")) {
            need(argc, i, 2);
            rc = midge_lite_subscribe(&c, argv[i + 1], atoi(argv[i + 2]));
            i += 2;
            done(cmd, rc);
        } else if (!strcmp(cmd, "pub")) {
            need(argc, i, 3);
            rc = midge_lite_publish(&c, argv[i + 1], (const uint8_t *)argv[i + 3],
                                    strlen(argv[i + 3]), 0, atoi(argv[i + 2]));
            i += 3;
            done(cmd, rc);
        } else if (!strcmp(cmd, "pubn")) {
            int n, k;
            char buf[16];
            need(argc, i, 3);
            n = atoi(argv[i + 3]);
            for (k = 0, rc = 0; k < n && rc >= 0; k++) {
                snprintf(buf, sizeof(buf), "%d", k);
                rc = midge_lite_publish(&c, argv[i + 1], (const uint8_t *)buf, strlen(buf), 0,
                                        atoi(argv[i + 2]));
            }
            i += 3;
            done(cmd, rc);
        } else if (!strcmp(cmd, "recv")) {
            int want;
            uint32_t start = midge_lite_posix_clock(NULL), limit;
            need(argc, i, 2);
            want = atoi(argv[i + 1]);
            limit = (uint32_t)(atof(argv[i + 2]) * 1000);
            i += 2;
            rc = 0;
            while (received < want && rc >= 0 && midge_lite_posix_clock(NULL) - start < limit) {
                rc = midge_lite_check_msg(&c);
                usleep(5000);
            }
            done(cmd, rc < 0 ? rc : received >= want ? 0 : -100);
        } else if (!strcmp(cmd, "waitmsg")) {
            int want;
            need(argc, i, 1);
            want = received + atoi(argv[++i]);
            rc = 0;
            while (received < want && rc >= 0)
                rc = midge_lite_wait_msg(&c);
            done(cmd, rc);
        } else if (!strcmp(cmd, "idle")) {
            uint32_t start = midge_lite_posix_clock(NULL), limit;
            need(argc, i, 1);
            limit = (uint32_t)(atof(argv[++i]) * 1000);
            rc = 0;
            while (rc >= 0 && midge_lite_posix_clock(NULL) - start < limit) {
                rc = midge_lite_check_msg(&c);
                usleep(20000);
            }
            done(cmd, rc < 0 ? rc : midge_lite_is_connected(&c) ? 0 : -101);
        } else if (!strcmp(cmd, "drain")) {
            /* check_msg until it reports an error (expected: the broker
             * went away) or SECONDS pass; never fails the run. */
            uint32_t start = midge_lite_posix_clock(NULL), limit;
            need(argc, i, 1);
            limit = (uint32_t)(atof(argv[++i]) * 1000);
            rc = 0;
            while (rc >= 0 && midge_lite_posix_clock(NULL) - start < limit) {
                rc = midge_lite_check_msg(&c);
                usleep(20000);
            }
            printf("OK drain %d\n", rc);
            fflush(stdout);
        } else if (!strcmp(cmd, "setid")) {
            need(argc, i, 1);
            c.next_id = (uint16_t)atoi(argv[++i]);
            done(cmd, 0);
        } else if (!strcmp(cmd, "ping")) {
            done(cmd, midge_lite_ping(&c));
        } else if (!strcmp(cmd, "disconnect")) {
            done(cmd, midge_lite_disconnect(&c));
        } else if (!strcmp(cmd, "abort")) {
            /* An abrupt close: no DISCONNECT, so the broker sends the will. */
            tr.close(tr.io);
            done(cmd, 0);
        } else if (!strcmp(cmd, "pause")) {
            char line[64];
            done(cmd, fgets(line, sizeof(line), stdin) ? 0 : -102);
        } else if (!strcmp(cmd, "reconnect")) {
            need(argc, i, 2);
            rc = midge_lite_reconnect(&c, (unsigned)atoi(argv[i + 1]), (uint32_t)atoi(argv[i + 2]));
            i += 2;
            done(cmd, rc);
        } else {
            fprintf(stderr, "unknown command %s\n", cmd);
            return 2;
        }
    }
    return 0;
}
