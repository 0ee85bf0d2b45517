/* test/os_compat.h - the few OS-specific calls the tests make, so the same
 * test sources compile for Linux, (make check-macos-compile) macOS and
 * (make check-windows) Windows.
 * On Unix, descriptor set-up goes through the library's own shims
 * (reactor/os_unix.h: ax__pipe, ax__socket, ax__socketpair); this adds the
 * kernel thread id, which the tests use to tell threads apart (a joined
 * thread's pthread_t may be reused, a live thread's id is unique).
 * On Windows: the thread id, setenv / unsetenv (there _putenv_s), and for
 * the file tests the POSIX calls they set up with: mkdir(path, mode),
 * symlink, ax__fdatasync, O_CLOEXEC (binary mode: every test open passes
 * it), a scratch directory (test_mkdtemp), its removal (test_rm_rf) and
 * the working set (test_rss_kib). */
#ifndef AX_TEST_OS_COMPAT_H
#define AX_TEST_OS_COMPAT_H

#ifdef _WIN32
#include <stdbool.h>
#include <stdlib.h>
#include <windows.h>
/* Windows 10 1607+; older mingw-w64 headers do not declare it. */
HRESULT WINAPI GetThreadDescription(HANDLE thread, PWSTR *description);
static inline long test_thread_id(void) {
    return (long)GetCurrentThreadId();
}
/* The C runtime's environment (what getenv reads); "" removes a name. */
static inline int setenv(const char *name, const char *value, int overwrite) {
    if (!overwrite && getenv(name)) return 0;
    return _putenv_s(name, value) == 0 ? 0 : -1;
}
static inline int unsetenv(const char *name) {
    return _putenv_s(name, "") == 0 ? 0 : -1;
}

#include <direct.h>
#include <fcntl.h>
#include <io.h>
#include <psapi.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* Every open in the tests passes O_CLOEXEC: on Windows it also asks for
 * binary mode, so no newline is translated. */
#ifndef O_CLOEXEC
#define O_CLOEXEC (_O_NOINHERIT | _O_BINARY)
#endif
#define mkdir(path, mode) _mkdir(path)

/* symlink(2) with CreateSymbolicLinkA: a directory link when the target
 * (relative to the link's directory) is one. Needs the privilege or
 * Developer Mode; -1 otherwise. */
static inline int symlink(const char *target, const char *path) {
    char full[1024];
    const char *slash = strrchr(path, '/'), *bslash = strrchr(path, '\\');
    if (bslash > slash) slash = bslash;
    bool absolute = target[0] == '/' || target[0] == '\\' || (target[0] && target[1] == ':');
    if (absolute || !slash)
        snprintf(full, sizeof full, "%s", target);
    else
        snprintf(full, sizeof full, "%.*s/%s", (int)(slash - path), path, target);
    DWORD a = GetFileAttributesA(full), flags = SYMBOLIC_LINK_FLAG_ALLOW_UNPRIVILEGED_CREATE;
    if (a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_DIRECTORY))
        flags |= SYMBOLIC_LINK_FLAG_DIRECTORY;
    char t[1024];
    snprintf(t, sizeof t, "%s", target);
    for (char *c = t; *c; c++)
        if (*c == '/') *c = '\\';
    return CreateSymbolicLinkA(path, t, flags) ? 0 : -1;
}

static inline int ax__fdatasync(int fd) {
    return _commit(fd);
}

/* strcasestr (a GNU extension the C runtime lacks): ASCII case folding. */
static inline char *strcasestr(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (_strnicmp(hay, needle, n) == 0) return (char *)hay;
    return n ? NULL : (char *)hay;
}

/* A new directory <temp>/<prefix>.<pid>.<n> in dir (cap bytes); 0 or -1. */
static inline int test_mkdtemp(char *dir, size_t cap, const char *prefix) {
    char tmp[MAX_PATH];
    DWORD n = GetTempPathA(sizeof tmp, tmp);
    if (n == 0 || n >= sizeof tmp) return -1;
    for (unsigned i = 0; i < 1000; i++) {
        snprintf(dir, cap, "%s%s.%lu.%lu", tmp, prefix, (unsigned long)GetCurrentProcessId(),
                 (unsigned long)(GetTickCount() + i));
        if (CreateDirectoryA(dir, NULL)) return 0;
        if (GetLastError() != ERROR_ALREADY_EXISTS) return -1;
    }
    return -1;
}

/* rm -rf path: links are removed, never followed; read-only files too. */
static inline int test_rm_rf(const char *path) {
    DWORD a = GetFileAttributesA(path);
    if (a == INVALID_FILE_ATTRIBUTES) return 0;
    if (a & FILE_ATTRIBUTE_READONLY) SetFileAttributesA(path, a & ~FILE_ATTRIBUTE_READONLY);
    if (!(a & FILE_ATTRIBUTE_DIRECTORY)) return DeleteFileA(path) ? 0 : -1;
    int rc = 0;
    if (!(a & FILE_ATTRIBUTE_REPARSE_POINT)) {
        char pat[1024];
        snprintf(pat, sizeof pat, "%s\\*", path);
        WIN32_FIND_DATAA d;
        HANDLE h = FindFirstFileA(pat, &d);
        if (h != INVALID_HANDLE_VALUE) {
            do {
                if (!strcmp(d.cFileName, ".") || !strcmp(d.cFileName, "..")) continue;
                char sub[1024];
                snprintf(sub, sizeof sub, "%s\\%s", path, d.cFileName);
                if (test_rm_rf(sub)) rc = -1;
            } while (FindNextFileA(h, &d));
            FindClose(h);
        }
    }
    return RemoveDirectoryA(path) ? rc : -1;
}

/* The working set in KiB. */
static inline long test_rss_kib(void) {
    PROCESS_MEMORY_COUNTERS m;
    if (!K32GetProcessMemoryInfo(GetCurrentProcess(), &m, sizeof m)) return -1;
    return (long)(m.WorkingSetSize / 1024);
}
#else
#include "reactor/os_unix.h"

#if defined(__linux__)
#include <sys/syscall.h>
#endif

static inline long test_thread_id(void) {
#if defined(__linux__)
    return syscall(SYS_gettid);
#elif defined(__APPLE__)
    uint64_t id = 0;
    pthread_threadid_np(NULL, &id);
    return (long)id;
#else
    return (long)(uintptr_t)pthread_self();
#endif
}
#endif

#endif
