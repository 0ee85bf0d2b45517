/* test/sanitizers.h - which sanitizer a test binary is built with, for the
 * few tests whose subject a sanitizer changes (TSan needs kernel mappings
 * of its own, so a test that exhausts vm.max_map_count on purpose cannot run
 * under it; the same tests run in the plain and ASan builds). */
#ifndef AX_TEST_SANITIZERS_H
#define AX_TEST_SANITIZERS_H

#if defined(__SANITIZE_THREAD__)
#define AX_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define AX_TEST_TSAN 1
#endif
#endif
#ifndef AX_TEST_TSAN
#define AX_TEST_TSAN 0
#endif

/* ASan keeps freed memory in quarantine and pads every allocation, so
 * resident-memory figures mean nothing under it. */
#if defined(__SANITIZE_ADDRESS__)
#define AX_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define AX_TEST_ASAN 1
#endif
#endif
#ifndef AX_TEST_ASAN
#define AX_TEST_ASAN 0
#endif

#endif
