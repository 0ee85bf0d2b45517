/* test/win_skip.h - the one list of what the test suite leaves out on
 * Windows, and why. A test that cannot run there starts with
 * AX_WIN_SKIP(AX_WIN_NO_x) and is reported by the runner as skipped with
 * that reason (never silently); its POSIX-only body sits under
 * #ifndef _WIN32. Whole test files left out of the Windows build are
 * listed in the Makefile (WIN_TEST_SKIP) with their reasons.
 *
 * Elsewhere the macro expands to nothing. */
#ifndef AX_TEST_WIN_SKIP_H
#define AX_TEST_WIN_SKIP_H

#define AX_WIN_NO_FORK    "fork() has no Windows counterpart (tests that need a child process)"
#define AX_WIN_NO_SIGNALS "POSIX signals (SIGPIPE, kill, sigaction) do not exist on Windows"
#define AX_WIN_NO_PROC    "the test counts /proc mappings against vm.max_map_count (Linux-only)"
#define AX_WIN_NO_IFNAME  "interface names (if_nametoindex on lo) and Linux multicast defaults"
#define AX_WIN_NO_FDWAIT                                                                           \
    "ax_wait_readable/ax_wait_writable and ax_runtime_fd are AX_ENOTSUP on Windows (a "            \
    "completion port cannot take a caller's descriptor for one wait, nor be polled)"
#define AX_WIN_NO_PIPES                                                                            \
    "Unix socketpairs and pipes: on Windows ax_iochain_write and the reactor take sockets only"
#define AX_WIN_NO_MMAP                                                                             \
    "memory-mapped file buffers (ax_buf_map_file/path) are AX_ENOTSUP on Windows (buf_map_win.c)"
#define AX_WIN_NO_FSROOTS                                                                          \
    "policy file roots are AX_ENOTSUP on Windows (no openat2 or O_PATH root descriptors there; "   \
    "fs/ runs without a policy on Windows)"
#define AX_WIN_NO_SENDFILE "sendfile is not offered on Windows yet (AX_ENOTSUP)"
#define AX_WIN_NO_CHMOD                                                                            \
    "permission denial through chmod and a child running as user nobody (Windows has only the "    \
    "read-only attribute, no setuid, no fork)"
#define AX_WIN_NO_PROCFD "opens a pipe through /proc/self/fd/N, which Windows does not have"
#define AX_WIN_NO_SYMLINK_PRIV                                                                     \
    "creating symbolic links needs the SeCreateSymbolicLinkPrivilege or Developer Mode, "          \
    "which this account lacks (ax_fs_symlink returns AX_EPERM)"
#define AX_WIN_NO_PROCFS "reads /proc/self/maps, a file whose stat size is 0 (Linux only)"
#define AX_WIN_NO_PREEMPTS                                                                         \
    "counts wake-ups only over tries no thread was preempted in (getrusage's ru_nivcsw), "         \
    "which Windows does not count"
#define AX_WIN_NO_MPROTECT                                                                         \
    "makes the caller's buffer unreadable (mmap/mprotect) and holds a write job on a FIFO "        \
    "whose reader opens late or never reads (POSIX FIFO semantics)"
#define AX_WIN_NO_CURL "curl.exe is not installed under wine (the curl-based HTTP tests)"

/* Wine (where make check-windows runs) differs from Windows here; these
 * skip only when ntdll is wine's (it exports wine_get_version). */
#define AX_WINE_NO_UDP_ICMP                                                                        \
    "wine 8 does not report a connected UDP socket's ICMP port-unreachable (a plain blocking "     \
    "recv times out too); that check is left out"
#define AX_WINE_NO_LINGER_RST                                                                      \
    "wine 8 closes an accepted socket with SO_LINGER 0 by FIN, not RST "                           \
    "(test_iocp.c end_of_stream_and_reset covers a reset through the reactor)"
#define AX_WINE_NO_SYMLINK                                                                         \
    "wine 8 creates a symbolic link (CreateSymbolicLinkW succeeds) that it cannot open or stat "   \
    "afterwards (ERROR_FILE_NOT_FOUND), so lstat/readlink cannot be checked"
#define AX_WINE_NO_ATOMIC_APPEND                                                                   \
    "wine 8 does not append atomically through a FILE_APPEND_DATA handle (nor at offset "          \
    "0xFFFFFFFF'FFFFFFFF): a plain Win32 program with 50 threads appending 20 records each "       \
    "loses records there; Windows guarantees it"

#ifdef _WIN32
#include <windows.h>
#define AX_WIN_SKIP(reason) cr_skip_test("Windows: %s", reason)
static inline int ax_test_under_wine(void) {
    HMODULE nt = GetModuleHandleA("ntdll.dll");
    return nt && GetProcAddress(nt, "wine_get_version") != NULL;
}
#define AX_WINE_SKIP(reason)                                                                       \
    do {                                                                                           \
        if (ax_test_under_wine()) cr_skip_test("wine: %s", reason);                                \
    } while (0)
#else
#define AX_WIN_SKIP(reason)  ((void)0)
#define AX_WINE_SKIP(reason) ((void)0)
static inline int ax_test_under_wine(void) {
    return 0;
}
#endif

#endif
