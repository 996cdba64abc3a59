/*
 * Minimal unit-test harness shared by every tests/unit suite.
 *
 *   TEST(parses_empty) { CHECK(x == 1); CHECK_EQ_INT(a, b); }
 *   int main(void) { RUN(parses_empty); return TEST_REPORT(); }
 *
 * A failed CHECK records the failure and returns from the test. The report
 * ends with "N passed, N failed" and exits non-zero on any failure.
 */
#ifndef MIDGE_TEST_H
#define MIDGE_TEST_H

#include <stdio.h>
#include <string.h>

static int test_passed_count;
static int test_failed_count;
static int test_current_failed;

#define TEST(name) static void name(void)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
            test_current_failed = 1;                                                               \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);                            \
        if (check_a_ != check_b_) {                                                                \
            fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__, #a, #b,  \
                    check_a_, check_b_);                                                           \
            test_current_failed = 1;                                                               \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define CHECK_MEM(a, b, n)                                                                         \
    do {                                                                                           \
        if (memcmp((a), (b), (n)) != 0) {                                                          \
            fprintf(stderr, "%s:%d: memory %s != %s (%zu bytes)\n", __FILE__, __LINE__, #a, #b,    \
                    (size_t)(n));                                                                  \
            test_current_failed = 1;                                                               \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define RUN(name)                                                                                  \
    do {                                                                                           \
        test_current_failed = 0;                                                                   \
        name();                                                                                    \
        if (test_current_failed) {                                                                 \
            test_failed_count++;                                                                   \
            fprintf(stderr, "FAIL %s\n", #name);                                                   \
        } else {                                                                                   \
            test_passed_count++;                                                                   \
        }                                                                                          \
    } while (0)

#define TEST_REPORT()                                                                              \
    (printf("%d passed, %d failed\n", test_passed_count, test_failed_count),                       \
     test_failed_count ? 1 : 0)

#endif
