/* A tiny test harness for the core's C unit tests: CHECK records a failure
 * with its line and goes on; main returns non-zero if any check failed. */
#ifndef RUPHIN_TEST_CHECK_H
#define RUPHIN_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures;
static int check_count;

#define CHECK(cond)                                                              \
    do {                                                                         \
        check_count++;                                                           \
        if (!(cond)) {                                                           \
            check_failures++;                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                        \
    } while (0)

#define CHECK_EQ(a, b) CHECK((long long)(a) == (long long)(b))
#define CHECK_BYTES(buf, len, expected)                                           \
    CHECK((len) == sizeof(expected) - 1 && memcmp((buf), (expected), (len)) == 0)

#define RUN(test)                                                                \
    do {                                                                         \
        int before = check_failures;                                             \
        test();                                                                  \
        printf("%s %s\n", check_failures == before ? "ok  " : "FAIL", #test);   \
    } while (0)

static int check_report(void)
{
    printf("%d checks, %d failed\n", check_count, check_failures);
    return check_failures == 0 && check_count > 0 ? 0 : 1;
}

#endif
