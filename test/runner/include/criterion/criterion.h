/* Axon's stand-in for Criterion 2.4.1's classic API, <criterion/criterion.h>.
 *
 * Why it exists: Criterion aborts at start under ThreadSanitizer and has no
 * Windows build, so the TSan, AArch64-static and Windows test builds compile
 * the same test sources against this header (-Itest/runner/include) and link
 * test/runner/runner.c, which provides main().
 *
 * Supported: Test() and TestSuite() with .init .fini .timeout .disabled
 * .exit_code .signal .description; cr_assert and cr_expect with their _not
 * _fail _eq _neq _lt _leq _gt _geq _null _not_null _str_eq _str_neq _str_lt
 * _str_leq _str_gt _str_geq _str_empty _str_not_empty _arr_eq _arr_neq
 * _float_eq _float_neq forms; cr_skip_test; cr_log_info/warn/error.
 * Not supported: parameterized tests, theories, report hooks, cr_malloc,
 * the wcs, throw and _cmp asserts, <criterion/new/assert.h>.
 *
 * As in Criterion, the trailing message of every check is optional and is a
 * printf format that must be a string literal; it replaces the default one.
 * Each operand is evaluated once. A failed cr_assert ends the test (its
 * .fini still runs if the failure happened on the test's own thread); a
 * failed cr_expect marks it failed and carries on.
 */
#ifndef AX_CRITERION_H
#define AX_CRITERION_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "logging.h"

/* Lets a test source tell the two runners apart when it must. */
#define AX_OWN_TEST_RUNNER 1

/* Options of Test() and TestSuite(), named as in Criterion so the same
 * designated initializers compile against both. As in Criterion: suite
 * .init runs before test .init, test .fini before suite .fini; a test is
 * skipped if it or its suite is .disabled; .timeout falls back to the
 * suite's, then to the runner's default (60 s); .signal and .exit_code are
 * read from the test only. */
struct criterion_test_extra_data {
    int sentinel_; /* lets Test(s, n) without options expand to a valid initializer */
    void (*init)(void);
    void (*fini)(void);
    int signal;    /* the test passes only if it dies of this signal */
    int exit_code; /* the exit status the test must end with */
    bool disabled;
    const char *description;
    double timeout; /* seconds */
    void *data;
};

struct cri_test {
    const char *suite, *name, *file;
    int line;
    void (*fn)(void);
    const struct criterion_test_extra_data *data;
    struct cri_test *next; /* registry link, used by runner.c */
};

struct cri_suite {
    const char *name;
    const struct criterion_test_extra_data *data;
    struct cri_suite *next;
};

/* Called by constructors before main(); the objects stay owned by the test
 * file (static storage). Not thread-safe, needs none. */
void cri_register_test(struct cri_test *t);
void cri_register_suite(struct cri_suite *s);

/* Constructors rather than an ELF section: they work the same in static
 * binaries and with mingw-w64. The test function keeps Criterion's external
 * name (suite_name_impl), so a duplicate test fails to link under both. */
#define Test(...) CRI_TEST_(__VA_ARGS__, .sentinel_ = 0)
#define CRI_TEST_(Suite, Name, ...)                                                                \
    void Suite##_##Name##_impl(void);                                                              \
    static const struct criterion_test_extra_data cri_data_##Suite##_##Name = {__VA_ARGS__};       \
    static struct cri_test cri_test_##Suite##_##Name =                                             \
        {#Suite, #Name, __FILE__, __LINE__, Suite##_##Name##_impl, &cri_data_##Suite##_##Name,     \
         NULL};                                                                                    \
    __attribute__((constructor)) static void cri_reg_##Suite##_##Name(void) {                      \
        cri_register_test(&cri_test_##Suite##_##Name);                                             \
    }                                                                                              \
    void Suite##_##Name##_impl(void)

/* Ends on a declaration so that the caller's semicolon is not a stray one. */
#define TestSuite(...) CRI_SUITE_(__VA_ARGS__, .sentinel_ = 0)
#define CRI_SUITE_(Name, ...)                                                                      \
    static const struct criterion_test_extra_data cri_sdata_##Name = {__VA_ARGS__};                \
    static struct cri_suite cri_suite_##Name;                                                      \
    __attribute__((constructor)) static void cri_sreg_##Name(void) {                               \
        cri_register_suite(&cri_suite_##Name);                                                     \
    }                                                                                              \
    static struct cri_suite cri_suite_##Name = {#Name, &cri_sdata_##Name, NULL}

/* What a failed check reports. tmpl is the default message: each %s in it
 * takes one of the macro's arguments as written (args, split at top-level
 * commas by the runner); string checks also show both values. */
struct cri_check {
    const char *file;
    int line;
    const char *tmpl;
    const char *args;
    const char *actual, *expected;
    bool values;
};

/* fmt is "x" glued to the caller's optional message, so an absent message
 * still leaves a valid format; the runner drops the "x". */
_Noreturn void cri_assert_failed(const struct cri_check *c, const char *fmt, ...) CRI_PRINTF(2, 3);
void cri_expect_failed(const struct cri_check *c, const char *fmt, ...) CRI_PRINTF(2, 3);
_Noreturn void cri_skip(const char *fmt, ...) CRI_PRINTF(1, 2);
/* strcmp that orders NULL before every string instead of crashing. */
int cri_strcmp(const char *a, const char *b);

/* CRI_HEAD: first argument. CRI_TAIL: the others, or nothing. */
#define CRI_CAT(a, b)     CRI_CAT_(a, b)
#define CRI_CAT_(a, b)    a##b
#define CRI_HEAD(...)     CRI_HEAD_(__VA_ARGS__, ~)
#define CRI_HEAD_(h, ...) h
#define CRI_TAIL(...)     CRI_CAT(CRI_TAIL_, CRI_ARITY(__VA_ARGS__))(__VA_ARGS__)
#define CRI_TAIL_1(h)
#define CRI_TAIL_N(h, ...) __VA_ARGS__
/* 1 for one argument, N for 2 to 32. */
#define CRI_ARITY(...)                                                                             \
    CRI_ARITY_(__VA_ARGS__, N, N, N, N, N, N, N, N, N, N, N, N, N, N, N, N, N, N, N, N, N, N, N,   \
               N, N, N, N, N, N, N, N, 1, ~)
#define CRI_ARITY_(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13, _14, _15, _16, _17,     \
                   _18, _19, _20, _21, _22, _23, _24, _25, _26, _27, _28, _29, _30, _31, _32, X,   \
                   ...)                                                                            \
    X
#define CRI_ARG2(...)  CRI_HEAD(CRI_TAIL(__VA_ARGS__))
#define CRI_ARG3(...)  CRI_HEAD(CRI_TAIL(CRI_TAIL(__VA_ARGS__)))
#define CRI_REST2(...) CRI_TAIL(CRI_TAIL(__VA_ARGS__))
#define CRI_REST3(...) CRI_TAIL(CRI_TAIL(CRI_TAIL(__VA_ARGS__)))

/* Fail is cri_assert_failed or cri_expect_failed; the variadic part is the
 * caller's message (format and arguments), possibly empty. */
#define CRI_CHECK(Fail, Cond, Tmpl, Args, ...)                                                     \
    do {                                                                                           \
        if (!(Cond))                                                                               \
            Fail(&(const struct cri_check){__FILE__, __LINE__, Tmpl, Args, NULL, NULL, false},     \
                 "x" __VA_ARGS__);                                                                 \
    } while (0)

#define CRI_COND(Fail, Args, ...)                                                                  \
    CRI_CHECK(Fail, CRI_HEAD(__VA_ARGS__), "The expression %s is false.", Args,                    \
              CRI_TAIL(__VA_ARGS__))
#define CRI_NOT(Fail, Args, ...)                                                                   \
    CRI_CHECK(Fail, !(CRI_HEAD(__VA_ARGS__)), "The expression !(%s) is false.", Args,              \
              CRI_TAIL(__VA_ARGS__))
#define CRI_OP(Fail, Op, Args, ...)                                                                \
    CRI_CHECK(Fail, (CRI_HEAD(__VA_ARGS__))Op(CRI_ARG2(__VA_ARGS__)),                              \
              "The expression (%s) " #Op " (%s) is false.", Args, CRI_REST2(__VA_ARGS__))
#define CRI_NULL(Fail, Op, Tmpl, Args, ...)                                                        \
    CRI_CHECK(Fail, (CRI_HEAD(__VA_ARGS__))Op NULL, Tmpl, Args, CRI_TAIL(__VA_ARGS__))
#define CRI_STR(Fail, Op, Args, ...)                                                               \
    do {                                                                                           \
        const char *cri_a_ = (CRI_HEAD(__VA_ARGS__));                                              \
        const char *cri_b_ = (CRI_ARG2(__VA_ARGS__));                                              \
        if (!(cri_strcmp(cri_a_, cri_b_) Op 0))                                                    \
            Fail(&(const struct cri_check){__FILE__, __LINE__,                                     \
                                           "The expression (as strings) (%s) " #Op                 \
                                           " (%s) is false",                                       \
                                           Args, cri_a_, cri_b_, true},                            \
                 "x" CRI_REST2(__VA_ARGS__));                                                      \
    } while (0)
#define CRI_STR_EMPTY(Fail, Not, Tmpl, Args, ...)                                                  \
    do {                                                                                           \
        const char *cri_s_ = (CRI_HEAD(__VA_ARGS__));                                              \
        CRI_CHECK(Fail, cri_s_ &&Not(cri_s_[0] == '\0'), Tmpl, Args, CRI_TAIL(__VA_ARGS__));       \
    } while (0)
#define CRI_ARR(Fail, Op, Tmpl, Args, ...)                                                         \
    CRI_CHECK(Fail,                                                                                \
              memcmp((CRI_HEAD(__VA_ARGS__)), (CRI_ARG2(__VA_ARGS__)), (CRI_ARG3(__VA_ARGS__)))    \
                  Op 0,                                                                            \
              Tmpl, Args, CRI_REST3(__VA_ARGS__))
#define CRI_FLOAT(Fail, Not, Tmpl, Args, ...)                                                      \
    do {                                                                                           \
        double cri_a_ = (CRI_HEAD(__VA_ARGS__)), cri_b_ = (CRI_ARG2(__VA_ARGS__));                 \
        double cri_e_ = (CRI_ARG3(__VA_ARGS__));                                                   \
        CRI_CHECK(Fail, Not(cri_a_ - cri_b_ <= cri_e_ && cri_b_ - cri_a_ <= cri_e_), Tmpl, Args,   \
                  CRI_REST3(__VA_ARGS__));                                                         \
    } while (0)

#define CRI_A                 cri_assert_failed
#define CRI_E                 cri_expect_failed
#define CRI_MSG_STR_EMPTY     "%s is not empty."
#define CRI_MSG_STR_NOT_EMPTY "%s is empty."
#define CRI_MSG_ARR_EQ        "The arrays %s and %s differ in their first %s bytes."
#define CRI_MSG_ARR_NEQ       "The arrays %s and %s are equal in their first %s bytes."
#define CRI_MSG_FLOAT_EQ      "The expression (%s) == (%s) is false (epsilon %s)."
#define CRI_MSG_FLOAT_NEQ     "The expression (%s) != (%s) is false (epsilon %s)."

/* #__VA_ARGS__ is taken here, at the outermost macro, so the default
 * message shows the arguments as written rather than macro-expanded. */
#define cr_assert(...)     CRI_COND(CRI_A, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect(...)     CRI_COND(CRI_E, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_not(...) CRI_NOT(CRI_A, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_not(...) CRI_NOT(CRI_E, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_fail(...)                                                                        \
    CRI_CHECK(CRI_A, 0, "The conditions for this assertion were not met.", "", __VA_ARGS__)
#define cr_expect_fail(...)                                                                        \
    CRI_CHECK(CRI_E, 0, "The conditions for this assertion were not met.", "", __VA_ARGS__)
#define cr_skip_test(...) cri_skip("x" __VA_ARGS__)

#define cr_assert_eq(...)  CRI_OP(CRI_A, ==, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_eq(...)  CRI_OP(CRI_E, ==, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_neq(...) CRI_OP(CRI_A, !=, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_neq(...) CRI_OP(CRI_E, !=, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_lt(...)  CRI_OP(CRI_A, <, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_lt(...)  CRI_OP(CRI_E, <, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_leq(...) CRI_OP(CRI_A, <=, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_leq(...) CRI_OP(CRI_E, <=, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_gt(...)  CRI_OP(CRI_A, >, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_gt(...)  CRI_OP(CRI_E, >, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_geq(...) CRI_OP(CRI_A, >=, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_geq(...) CRI_OP(CRI_E, >=, #__VA_ARGS__, __VA_ARGS__)

#define cr_assert_null(...)     CRI_NULL(CRI_A, ==, "%s is not null.", #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_null(...)     CRI_NULL(CRI_E, ==, "%s is not null.", #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_not_null(...) CRI_NULL(CRI_A, !=, "%s is null.", #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_not_null(...) CRI_NULL(CRI_E, !=, "%s is null.", #__VA_ARGS__, __VA_ARGS__)

#define cr_assert_str_eq(...)  CRI_STR(CRI_A, ==, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_str_eq(...)  CRI_STR(CRI_E, ==, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_str_neq(...) CRI_STR(CRI_A, !=, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_str_neq(...) CRI_STR(CRI_E, !=, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_str_lt(...)  CRI_STR(CRI_A, <, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_str_lt(...)  CRI_STR(CRI_E, <, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_str_leq(...) CRI_STR(CRI_A, <=, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_str_leq(...) CRI_STR(CRI_E, <=, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_str_gt(...)  CRI_STR(CRI_A, >, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_str_gt(...)  CRI_STR(CRI_E, >, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_str_geq(...) CRI_STR(CRI_A, >=, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_str_geq(...) CRI_STR(CRI_E, >=, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_str_empty(...)                                                                   \
    CRI_STR_EMPTY(CRI_A, , CRI_MSG_STR_EMPTY, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_str_empty(...)                                                                   \
    CRI_STR_EMPTY(CRI_E, , CRI_MSG_STR_EMPTY, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_str_not_empty(...)                                                               \
    CRI_STR_EMPTY(CRI_A, !, CRI_MSG_STR_NOT_EMPTY, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_str_not_empty(...)                                                               \
    CRI_STR_EMPTY(CRI_E, !, CRI_MSG_STR_NOT_EMPTY, #__VA_ARGS__, __VA_ARGS__)

#define cr_assert_arr_eq(...)    CRI_ARR(CRI_A, ==, CRI_MSG_ARR_EQ, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_arr_eq(...)    CRI_ARR(CRI_E, ==, CRI_MSG_ARR_EQ, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_arr_neq(...)   CRI_ARR(CRI_A, !=, CRI_MSG_ARR_NEQ, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_arr_neq(...)   CRI_ARR(CRI_E, !=, CRI_MSG_ARR_NEQ, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_float_eq(...)  CRI_FLOAT(CRI_A, , CRI_MSG_FLOAT_EQ, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_float_eq(...)  CRI_FLOAT(CRI_E, , CRI_MSG_FLOAT_EQ, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_float_neq(...) CRI_FLOAT(CRI_A, !, CRI_MSG_FLOAT_NEQ, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_float_neq(...) CRI_FLOAT(CRI_E, !, CRI_MSG_FLOAT_NEQ, #__VA_ARGS__, __VA_ARGS__)

#endif
