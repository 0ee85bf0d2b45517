/* Sample tests for the runner's self-test (selftest.sh). Builds unchanged
 * against real Criterion (-lcriterion) and against test/runner; both must
 * report the same counts. Most tests here fail on purpose: selftest.sh
 * checks each verdict, the counts and the exit status.
 * Not named test_*.c, so the main Makefile does not pick it up. */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <windows.h>
static void nap(void) {
    Sleep(100);
}
#else
#include <pthread.h>
#include <time.h>
static void nap(void) {
    nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
}
#endif

/* Every macro form, all passing, with and without a message. */
Test(sample, pass) {
    int one = 1, two = 2;
    const char *s = "abc", *null = NULL;
    unsigned char a[3] = {1, 2, 3}, b[3] = {1, 2, 3}, c[3] = {1, 2, 4};
    size_t z = 5;
    double d = 0.1 + 0.2;

    cr_assert(one);
    cr_assert(one == 1, "message %d", one);
    cr_assert_not(two == 3);
    cr_assert_eq(one, 1);
    cr_assert_eq(z, (size_t)5, "size_t %zu", z);
    cr_assert_eq(s, s, "pointers compare too");
    cr_assert_neq(one, two);
    cr_assert_lt(one, two);
    cr_assert_leq(two, 2);
    cr_assert_gt(two, one);
    cr_assert_geq(2.5, 2.5);
    cr_assert_lt(s, s + 1);
    cr_assert_null(null);
    cr_assert_not_null(s, "%s", "not null");
    cr_assert_str_eq(s, "abc");
    cr_assert_str_neq(s, "a,b", "commas in strings: %c", ',');
    cr_assert_str_lt("abb", s);
    cr_assert_str_geq(s, "abc");
    cr_assert_str_empty("");
    cr_assert_str_not_empty(s);
    cr_assert_arr_eq(a, b, sizeof a);
    cr_assert_arr_neq(a, c, sizeof a);
    cr_assert_float_eq(d, 0.3, 1e-9);
    cr_assert_float_neq(d, 0.4, 1e-9);
    cr_expect(one);
    cr_expect_eq(one, 1, "expect with a message");
    cr_expect_str_eq(s, "abc");
    cr_expect_not_null(s);
    cr_log_info("info from sample::pass");
}

Test(sample, fail_assert) {
    cr_assert_eq(1 + 1, 3, "math is %s", "broken");
    cr_log_error("unreachable line ran");
}

Test(sample, fail_expect) {
    printf("stdout of fail_expect\n");
    cr_expect_str_eq("abc", "abd");
    cr_expect_fail();
    cr_log_warn("carried on after %d failed expects", 2);
}

Test(sample, crash) {
    raise(SIGSEGV);
}

Test(sample, timeout, .timeout = 0.5) {
    for (;;) nap();
}

Test(sample, skip) {
    cr_skip_test("no %s here", "network");
    cr_log_error("unreachable line ran");
}

Test(sample, disabled, .disabled = true) {
    cr_assert_fail("disabled test ran");
}

Test(sample, signal, .signal = SIGABRT) {
    abort();
}

Test(sample, signal_missing, .signal = SIGABRT) {}

Test(sample, exit_code, .exit_code = 3) {
    exit(3);
}

Test(sample, exit_code_wrong, .exit_code = 3) {
    exit(4);
}

static int fixture_state;
static void fixture_init(void) {
    fixture_state = 42;
}
static void fixture_fini(void) {
    cr_log_warn("fini ran with state %d", fixture_state);
}

Test(sample, fixtures, .init = fixture_init, .fini = fixture_fini) {
    cr_assert_eq(fixture_state, 42, "init did not run");
    fixture_state = 43;
}

static void fini_after_failure(void) {
    cr_log_warn("fini ran after a failed assert");
}

Test(sample, fini_after_failure, .fini = fini_after_failure) {
    cr_assert(0);
}

#ifndef _WIN32
static void *assert_off_thread(void *arg) {
    cr_assert(arg == NULL, "failed on another thread");
    return arg;
}
static void *expect_off_thread(void *arg) {
    cr_expect(arg == NULL, "expect failed on another thread");
    return arg;
}

Test(sample, thread_assert) {
    pthread_t t;
    pthread_create(&t, NULL, assert_off_thread, &fixture_state);
    pthread_join(t, NULL);
}

Test(sample, thread_expect) {
    pthread_t t;
    pthread_create(&t, NULL, expect_off_thread, &fixture_state);
    pthread_join(t, NULL);
}
#endif

/* Suite defaults: init runs before the test's own, the timeout applies to
 * every test of the suite that sets none. */
static char order[8];
static void suite_init(void) {
    strcat(order, "S");
}
static void test_init(void) {
    strcat(order, "T");
}

TestSuite(suited, .init = suite_init, .timeout = 0.5);

Test(suited, init_order, .init = test_init) {
    cr_assert_str_eq(order, "ST");
}

Test(suited, suite_timeout) {
    for (;;) nap();
}
