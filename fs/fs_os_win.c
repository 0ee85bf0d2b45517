/* fs/fs_os_win.c - the POSIX file calls fs/ makes, done with Win32 (the
 * Windows side of fs/fs_os.h, which says where the behaviour differs).
 * Every function returns -1 (or NULL) and sets errno on failure, as the
 * POSIX call it stands for. Paths are UTF-8 and converted to UTF-16. */
#include <windows.h>
#include <winioctl.h>

#include <io.h>
#include <ntsecapi.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fs/fs_os.h"

#pragma GCC visibility push(hidden)

int ax__win_errno(void) {
    DWORD e = GetLastError();
    int r;
    switch (e) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_INVALID_DRIVE:
    case ERROR_BAD_NETPATH:
    case ERROR_BAD_PATHNAME:
    case ERROR_INVALID_NAME:
        r = ENOENT;
        break;
    case ERROR_DIRECTORY:
        r = ENOTDIR;
        break;
    case ERROR_ACCESS_DENIED:
    case ERROR_WRITE_PROTECT:
        r = EACCES;
        break;
    case ERROR_PRIVILEGE_NOT_HELD:
        r = EPERM;
        break;
    case ERROR_SHARING_VIOLATION:
    case ERROR_LOCK_VIOLATION:
    case ERROR_BUSY:
        r = EBUSY;
        break;
    case ERROR_FILE_EXISTS:
    case ERROR_ALREADY_EXISTS:
        r = EEXIST;
        break;
    case ERROR_DIR_NOT_EMPTY:
        r = ENOTEMPTY;
        break;
    case ERROR_DISK_FULL:
    case ERROR_HANDLE_DISK_FULL:
        r = ENOSPC;
        break;
    case ERROR_FILENAME_EXCED_RANGE:
    case ERROR_BUFFER_OVERFLOW:
        r = ENAMETOOLONG;
        break;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
        r = ENOMEM;
        break;
    case ERROR_INVALID_HANDLE:
        r = EBADF;
        break;
    case ERROR_TOO_MANY_OPEN_FILES:
        r = EMFILE;
        break;
    case ERROR_NOT_SAME_DEVICE:
        r = EXDEV;
        break;
    case ERROR_CANT_RESOLVE_FILENAME:
        r = ELOOP;
        break;
    case ERROR_NOT_SUPPORTED:
    case ERROR_INVALID_FUNCTION:
        r = ENOTSUP;
        break;
    case ERROR_BROKEN_PIPE:
    case ERROR_NO_DATA:
        r = EPIPE;
        break;
    case ERROR_INVALID_PARAMETER:
    case ERROR_NEGATIVE_SEEK:
    case ERROR_NOT_A_REPARSE_POINT:
        r = EINVAL;
        break;
    case ERROR_NO_UNICODE_TRANSLATION:
        r = EINVAL;
        break;
    default:
        r = EIO;
        break;
    }
    errno = r;
    return r;
}

static int ax__win_fail(int e) {
    errno = e;
    return -1;
}

/* ---- paths ----------------------------------------------------------------------------------- */

/* Appends UTF-8 s as UTF-16 at w (room for cap units), turning '/' into
 * '\'. Returns the units written (without the NUL), or -1 with errno. */
static int ax__win_put(wchar_t *w, int cap, const char *s) {
    int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, w, cap);
    if (n <= 0) return ax__win_errno(), -1;
    for (int i = 0; i < n; i++)
        if (w[i] == L'/') w[i] = L'\\';
    return n - 1;
}

static int ax__win_wlen(const char *s) {
    int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0);
    if (n <= 0) ax__win_errno();
    return n;
}

static HANDLE ax__win_handle(int fd) {
    intptr_t h = _get_osfhandle(fd);
    if (h == -1 || h == 0) errno = EBADF;
    return (HANDLE)h;
}

/* The UTF-16 path of name relative to the directory descriptor dirfd
 * (AT_FDCWD: name as given), malloc'd; NULL with errno. The directory's
 * path is its final path by handle (\\?\ form), so "." names it and other
 * names are appended; fs/ passes only single names or "." here. */
static wchar_t *ax__win_at(int dirfd, const char *name) {
    if (!name || !*name) return errno = ENOENT, NULL;
    int nl = ax__win_wlen(name);
    if (nl <= 0) return NULL;
    if (dirfd == AT_FDCWD) {
        wchar_t *w = malloc((size_t)nl * sizeof *w);
        if (!w) return errno = ENOMEM, NULL;
        if (ax__win_put(w, nl, name) < 0) {
            free(w);
            return NULL;
        }
        return w;
    }
    HANDLE h = ax__win_handle(dirfd);
    if (h == INVALID_HANDLE_VALUE || !h) return NULL;
    DWORD dl = GetFinalPathNameByHandleW(h, NULL, 0, FILE_NAME_NORMALIZED | VOLUME_NAME_DOS);
    if (dl == 0) return ax__win_errno(), NULL;
    wchar_t *w = malloc(((size_t)dl + 1 + (size_t)nl) * sizeof *w);
    if (!w) return errno = ENOMEM, NULL;
    DWORD got = GetFinalPathNameByHandleW(h, w, dl, FILE_NAME_NORMALIZED | VOLUME_NAME_DOS);
    if (got == 0 || got >= dl) {
        if (got)
            errno = EIO;
        else
            ax__win_errno();
        free(w);
        return NULL;
    }
    if (strcmp(name, ".") == 0) return w;
    if (got && w[got - 1] != L'\\') w[got++] = L'\\';
    if (ax__win_put(w + got, nl, name) < 0) {
        free(w);
        return NULL;
    }
    return w;
}

/* ---- descriptors ----------------------------------------------------------------------------- */

static bool ax__win_is_symlink(HANDLE h, DWORD attrs) {
    if (!(attrs & FILE_ATTRIBUTE_REPARSE_POINT)) return false;
    FILE_ATTRIBUTE_TAG_INFO t;
    if (!GetFileInformationByHandleEx(h, FileAttributeTagInfo, &t, sizeof t)) return false;
    return t.ReparseTag == IO_REPARSE_TAG_SYMLINK;
}

static HANDLE ax__win_create(const wchar_t *w, int oflags, unsigned mode) {
    int acc = oflags & (O_RDONLY | O_WRONLY | O_RDWR);
    bool rd = acc == O_RDONLY || acc == O_RDWR, wr = acc == O_WRONLY || acc == O_RDWR;
    DWORD access = FILE_READ_ATTRIBUTES | SYNCHRONIZE;
    if (!(oflags & O_PATH)) {
        if (rd) access |= GENERIC_READ;
        /* Append: all of write but FILE_WRITE_DATA, so every WriteFile
         * lands at the end, atomically (the O_APPEND guarantee). */
        if (wr && (oflags & O_APPEND) && !(oflags & O_TRUNC))
            access |= FILE_GENERIC_WRITE & ~FILE_WRITE_DATA;
        else if (wr)
            access |= GENERIC_WRITE;
    }
    DWORD disp;
    if ((oflags & O_CREAT) && (oflags & O_EXCL))
        disp = CREATE_NEW;
    else if ((oflags & O_CREAT) && (oflags & O_TRUNC))
        disp = CREATE_ALWAYS;
    else if (oflags & O_CREAT)
        disp = OPEN_ALWAYS;
    else if (oflags & O_TRUNC)
        disp = TRUNCATE_EXISTING;
    else
        disp = OPEN_EXISTING;
    DWORD fl = FILE_FLAG_BACKUP_SEMANTICS; /* directories open too */
    if (oflags & O_NOFOLLOW) fl |= FILE_FLAG_OPEN_REPARSE_POINT;
    if ((oflags & O_CREAT) && !(mode & 0200)) fl |= FILE_ATTRIBUTE_READONLY;
    SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, FALSE}; /* never inherited */
    return CreateFileW(w, access, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, &sa, disp,
                       fl, NULL);
}

static int ax__win_openw(const wchar_t *w, int oflags, unsigned mode) {
    HANDLE h = ax__win_create(w, oflags, mode);
    if (h == INVALID_HANDLE_VALUE) {
        /* A directory asked for writing: POSIX says EISDIR. */
        DWORD e = GetLastError();
        DWORD a = GetFileAttributesW(w);
        if (e == ERROR_ACCESS_DENIED && a != INVALID_FILE_ATTRIBUTES &&
            (a & FILE_ATTRIBUTE_DIRECTORY) && (oflags & (O_WRONLY | O_RDWR)))
            return ax__win_fail(EISDIR);
        SetLastError(e);
        return ax__win_errno(), -1;
    }
    BY_HANDLE_FILE_INFORMATION bi;
    int err = 0;
    if (GetFileType(h) != FILE_TYPE_DISK) /* a named pipe or a device */
        err = (oflags & O_DIRECTORY) ? ENOTDIR : 0;
    else if (!GetFileInformationByHandle(h, &bi))
        err = ax__win_errno();
    else if ((oflags & O_DIRECTORY) && !(bi.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY))
        err = ENOTDIR;
    else if ((bi.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) && (oflags & (O_WRONLY | O_RDWR)))
        err = EISDIR;
    else if ((oflags & O_NOFOLLOW) && !(oflags & O_PATH) &&
             ax__win_is_symlink(h, bi.dwFileAttributes))
        err = ELOOP;
    if (err) {
        CloseHandle(h);
        return ax__win_fail(err);
    }
    int fd = _open_osfhandle((intptr_t)h, (oflags & O_APPEND) ? _O_APPEND : 0);
    if (fd < 0) {
        CloseHandle(h);
        return ax__win_fail(EMFILE);
    }
    return fd;
}

int ax__win_openat(int dirfd, const char *name, int oflags, ...) {
    unsigned mode = 0;
    if (oflags & O_CREAT) {
        va_list ap;
        va_start(ap, oflags);
        mode = (unsigned)va_arg(ap, int);
        va_end(ap);
    }
    wchar_t *w = ax__win_at(dirfd, name);
    if (!w) return -1;
    int fd = ax__win_openw(w, oflags, mode);
    free(w);
    return fd;
}

int ax__win_open(const char *path, int oflags, ...) {
    unsigned mode = 0;
    if (oflags & O_CREAT) {
        va_list ap;
        va_start(ap, oflags);
        mode = (unsigned)va_arg(ap, int);
        va_end(ap);
    }
    return ax__win_openat(AT_FDCWD, path, oflags, mode);
}

/* Reads and writes of at most 1 GiB per call (a DWORD count). */
static DWORD ax__win_clamp(size_t len) {
    return len > ((size_t)1 << 30) ? (DWORD)1 << 30 : (DWORD)len;
}

static int64_t ax__win_rw(int fd, void *buf, size_t len, const int64_t *off, bool wr) {
    HANDLE h = ax__win_handle(fd);
    if (h == INVALID_HANDLE_VALUE || !h) return -1;
    OVERLAPPED ov;
    memset(&ov, 0, sizeof ov);
    if (off) {
        if (*off < 0) return ax__win_fail(EINVAL);
        ov.Offset = (DWORD)(uint64_t)*off;
        ov.OffsetHigh = (DWORD)((uint64_t)*off >> 32);
    }
    DWORD n = 0;
    BOOL ok = wr ? WriteFile(h, buf, ax__win_clamp(len), &n, off ? &ov : NULL)
                 : ReadFile(h, buf, ax__win_clamp(len), &n, off ? &ov : NULL);
    if (ok) return (int64_t)n;
    DWORD e = GetLastError();
    if (!wr && (e == ERROR_HANDLE_EOF || e == ERROR_BROKEN_PIPE)) return 0;
    if (!wr && e == ERROR_ACCESS_DENIED) { /* ReadFile on a directory handle */
        BY_HANDLE_FILE_INFORMATION bi;
        if (GetFileInformationByHandle(h, &bi) && (bi.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY))
            return ax__win_fail(EISDIR);
    }
    SetLastError(e);
    return ax__win_errno(), -1;
}

int64_t ax__win_read(int fd, void *buf, size_t len) {
    return ax__win_rw(fd, buf, len, NULL, false);
}
int64_t ax__win_write(int fd, const void *buf, size_t len) {
    return ax__win_rw(fd, (void *)buf, len, NULL, true);
}
int64_t ax__win_pread(int fd, void *buf, size_t len, int64_t off) {
    return ax__win_rw(fd, buf, len, &off, false);
}
int64_t ax__win_pwrite(int fd, const void *buf, size_t len, int64_t off) {
    return ax__win_rw(fd, (void *)buf, len, &off, true);
}

/* ---- metadata -------------------------------------------------------------------------------- */

/* 100 ns ticks since 1601 to a Unix timespec. */
static struct timespec ax__win_ts(LARGE_INTEGER t) {
    int64_t ns100 = t.QuadPart - INT64_C(116444736000000000);
    struct timespec ts;
    ts.tv_sec = (time_t)(ns100 / 10000000);
    ts.tv_nsec = (long)(ns100 % 10000000) * 100;
    if (ts.tv_nsec < 0) {
        ts.tv_sec--;
        ts.tv_nsec += 1000000000;
    }
    return ts;
}

static int ax__win_hstat(HANDLE h, struct ax__win_stat *st) {
    DWORD type = GetFileType(h);
    if (type == FILE_TYPE_PIPE || type == FILE_TYPE_CHAR) { /* no file information there */
        memset(st, 0, sizeof *st);
        st->st_mode = (type == FILE_TYPE_PIPE ? S_IFIFO : S_IFCHR) | 0600;
        st->st_nlink = 1;
        return 0;
    }
    BY_HANDLE_FILE_INFORMATION bi;
    FILE_BASIC_INFO b;
    if (!GetFileInformationByHandle(h, &bi) ||
        !GetFileInformationByHandleEx(h, FileBasicInfo, &b, sizeof b))
        return ax__win_errno(), -1;
    memset(st, 0, sizeof *st);
    DWORD a = bi.dwFileAttributes;
    if (ax__win_is_symlink(h, a))
        st->st_mode = S_IFLNK | 0777;
    else if (a & FILE_ATTRIBUTE_DIRECTORY)
        st->st_mode = S_IFDIR | 0755;
    else
        st->st_mode = S_IFREG | ((a & FILE_ATTRIBUTE_READONLY) ? 0444 : 0644);
    st->st_size = (int64_t)(((uint64_t)bi.nFileSizeHigh << 32) | bi.nFileSizeLow);
    st->st_nlink = bi.nNumberOfLinks;
    st->st_ino = ((uint64_t)bi.nFileIndexHigh << 32) | bi.nFileIndexLow;
    st->st_dev = bi.dwVolumeSerialNumber;
    st->st_atim = ax__win_ts(b.LastAccessTime);
    st->st_mtim = ax__win_ts(b.LastWriteTime);
    st->st_ctim = ax__win_ts(b.ChangeTime);
    return 0;
}

int ax__win_fstat(int fd, struct ax__win_stat *st) {
    HANDLE h = ax__win_handle(fd);
    if (h == INVALID_HANDLE_VALUE || !h) return -1;
    return ax__win_hstat(h, st);
}

int ax__win_fstatat(int dirfd, const char *name, struct ax__win_stat *st, int flags) {
    wchar_t *w = ax__win_at(dirfd, name);
    if (!w) return -1;
    DWORD fl = FILE_FLAG_BACKUP_SEMANTICS;
    if (flags & AT_SYMLINK_NOFOLLOW) fl |= FILE_FLAG_OPEN_REPARSE_POINT;
    HANDLE h =
        CreateFileW(w, FILE_READ_ATTRIBUTES, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                    NULL, OPEN_EXISTING, fl, NULL);
    free(w);
    if (h == INVALID_HANDLE_VALUE) return ax__win_errno(), -1;
    int rc = ax__win_hstat(h, st);
    CloseHandle(h);
    return rc;
}

int ax__win_stat(const char *path, struct ax__win_stat *st) {
    return ax__win_fstatat(AT_FDCWD, path, st, 0);
}

int ax__win_fsync(int fd) {
    HANDLE h = ax__win_handle(fd);
    if (h == INVALID_HANDLE_VALUE || !h) return -1;
    if (FlushFileBuffers(h)) return 0;
    DWORD e = GetLastError();
    BY_HANDLE_FILE_INFORMATION bi;
    if (GetFileInformationByHandle(h, &bi) && (bi.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY))
        return ax__win_fail(EINVAL); /* a directory cannot be flushed on Windows */
    SetLastError(e);
    return ax__win_errno(), -1;
}

int ax__win_ftruncate(int fd, int64_t len) {
    HANDLE h = ax__win_handle(fd);
    if (h == INVALID_HANDLE_VALUE || !h) return -1;
    if (len < 0) return ax__win_fail(EINVAL);
    FILE_END_OF_FILE_INFO eof;
    eof.EndOfFile.QuadPart = len;
    if (!SetFileInformationByHandle(h, FileEndOfFileInfo, &eof, sizeof eof))
        return ax__win_errno(), -1;
    return 0;
}

int ax__win_fchmod(int fd, unsigned mode) {
    HANDLE h = ax__win_handle(fd);
    if (h == INVALID_HANDLE_VALUE || !h) return -1;
    FILE_BASIC_INFO b;
    if (!GetFileInformationByHandleEx(h, FileBasicInfo, &b, sizeof b)) return ax__win_errno(), -1;
    DWORD a = b.FileAttributes;
    if (a & FILE_ATTRIBUTE_DIRECTORY) return 0; /* read-only means nothing for a directory */
    a = (mode & 0200) ? (a & ~(DWORD)FILE_ATTRIBUTE_READONLY) : (a | FILE_ATTRIBUTE_READONLY);
    if (a == b.FileAttributes) return 0;
    b.FileAttributes = a ? a : FILE_ATTRIBUTE_NORMAL;
    if (!SetFileInformationByHandle(h, FileBasicInfo, &b, sizeof b)) return ax__win_errno(), -1;
    return 0;
}

int ax__win_fcntl(int fd, int cmd, int arg) {
    (void)arg;
    if (cmd != F_DUPFD_CLOEXEC) return ax__win_fail(EINVAL);
    HANDLE h = ax__win_handle(fd), dup;
    if (h == INVALID_HANDLE_VALUE || !h) return -1;
    HANDLE self = GetCurrentProcess();
    if (!DuplicateHandle(self, h, self, &dup, 0, FALSE, DUPLICATE_SAME_ACCESS))
        return ax__win_errno(), -1;
    int nfd = _open_osfhandle((intptr_t)dup, 0);
    if (nfd < 0) {
        CloseHandle(dup);
        return ax__win_fail(EMFILE);
    }
    return nfd;
}

/* ---- names ----------------------------------------------------------------------------------- */

int ax__win_renameat(int d1, const char *n1, int d2, const char *n2) {
    wchar_t *a = ax__win_at(d1, n1);
    if (!a) return -1;
    wchar_t *b = ax__win_at(d2, n2);
    if (!b) {
        free(a);
        return -1;
    }
    int rc = 0;
    DWORD flags = MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH;
    if (!MoveFileExW(a, b, flags)) {
        /* POSIX replaces a read-only target; Windows wants the attribute
         * off first (put back if the rename still fails). */
        DWORD e = GetLastError(), t = GetFileAttributesW(b);
        if (e == ERROR_ACCESS_DENIED && t != INVALID_FILE_ATTRIBUTES &&
            (t & FILE_ATTRIBUTE_READONLY) && !(t & FILE_ATTRIBUTE_DIRECTORY) &&
            SetFileAttributesW(b, t & ~(DWORD)FILE_ATTRIBUTE_READONLY)) {
            if (MoveFileExW(a, b, flags)) goto done;
            e = GetLastError();
            SetFileAttributesW(b, t);
        }
        SetLastError(e);
        rc = -1;
        ax__win_errno();
    }
done:
    free(a);
    free(b);
    return rc;
}

int ax__win_unlinkat(int dirfd, const char *name, int flags) {
    wchar_t *w = ax__win_at(dirfd, name);
    if (!w) return -1;
    int rc = -1;
    DWORD a = GetFileAttributesW(w);
    if (a == INVALID_FILE_ATTRIBUTES)
        ax__win_errno();
    else if (flags & AT_REMOVEDIR) {
        if (!(a & FILE_ATTRIBUTE_DIRECTORY) || (a & FILE_ATTRIBUTE_REPARSE_POINT))
            errno = ENOTDIR;
        else if (RemoveDirectoryW(w))
            rc = 0;
        else
            ax__win_errno();
    } else if (a & FILE_ATTRIBUTE_DIRECTORY) {
        /* A link to a directory is a directory reparse point: removing it
         * removes the link. A real directory needs AT_REMOVEDIR. */
        if (!(a & FILE_ATTRIBUTE_REPARSE_POINT))
            errno = EISDIR;
        else if (RemoveDirectoryW(w))
            rc = 0;
        else
            ax__win_errno();
    } else {
        /* POSIX removes a read-only file; Windows wants the attribute off. */
        if ((a & FILE_ATTRIBUTE_READONLY) && !SetFileAttributesW(w, a & ~FILE_ATTRIBUTE_READONLY))
            ax__win_errno();
        else if (DeleteFileW(w))
            rc = 0;
        else
            ax__win_errno();
    }
    free(w);
    return rc;
}

int ax__win_mkdirat(int dirfd, const char *name, unsigned mode) {
    (void)mode; /* no permission bits on Windows */
    wchar_t *w = ax__win_at(dirfd, name);
    if (!w) return -1;
    int rc = CreateDirectoryW(w, NULL) ? 0 : (ax__win_errno(), -1);
    free(w);
    return rc;
}

int ax__win_symlinkat(const char *target, int dirfd, const char *name) {
    wchar_t *w = ax__win_at(dirfd, name);
    if (!w) return -1;
    int tl = ax__win_wlen(target);
    wchar_t *t = tl > 0 ? malloc((size_t)tl * sizeof *t) : NULL;
    if (!t || ax__win_put(t, tl, target) < 0) {
        if (tl > 0 && !t) errno = ENOMEM;
        free(t);
        free(w);
        return -1;
    }
    /* Windows wants to know whether the link names a directory: look at
     * the target, relative to the link's own directory. */
    DWORD flags = SYMBOLIC_LINK_FLAG_ALLOW_UNPRIVILEGED_CREATE, a;
    bool absolute = (t[0] && t[1] == L':') || t[0] == L'\\';
    if (absolute)
        a = GetFileAttributesW(t);
    else {
        size_t wl = wcslen(w);
        wchar_t *j = malloc((wl + (size_t)tl + 2) * sizeof *j);
        a = INVALID_FILE_ATTRIBUTES;
        if (j) {
            memcpy(j, w, (wl + 1) * sizeof *j);
            wchar_t *slash = wcsrchr(j, L'\\');
            size_t at = slash ? (size_t)(slash - j) + 1 : 0;
            memcpy(j + at, t, ((size_t)tl) * sizeof *j);
            a = GetFileAttributesW(j);
            free(j);
        }
    }
    if (a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_DIRECTORY))
        flags |= SYMBOLIC_LINK_FLAG_DIRECTORY;
    BOOLEAN ok = CreateSymbolicLinkW(w, t, flags);
    if (!ok && GetLastError() == ERROR_INVALID_PARAMETER) /* before Windows 10 1703 */
        ok =
            CreateSymbolicLinkW(w, t, flags & ~(DWORD)SYMBOLIC_LINK_FLAG_ALLOW_UNPRIVILEGED_CREATE);
    int rc = ok ? 0 : (ax__win_errno(), -1);
    free(t);
    free(w);
    return rc;
}

/* The symbolic-link layout of REPARSE_DATA_BUFFER (ntifs.h, not in the
 * user-mode headers). */
typedef struct ax__win_reparse {
    ULONG tag;
    USHORT data_len, reserved;
    USHORT subst_off, subst_len, print_off, print_len;
    ULONG flags;
    WCHAR path[1];
} ax__win_reparse;

int64_t ax__win_readlinkat(int dirfd, const char *name, char *buf, size_t cap) {
    wchar_t *w = ax__win_at(dirfd, name);
    if (!w) return -1;
    HANDLE h = CreateFileW(
        w, FILE_READ_ATTRIBUTES, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
        OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT, NULL);
    free(w);
    if (h == INVALID_HANDLE_VALUE) return ax__win_errno(), -1;
    union {
        ax__win_reparse r;
        char bytes[MAXIMUM_REPARSE_DATA_BUFFER_SIZE];
    } *u = malloc(sizeof *u);
    if (!u) {
        CloseHandle(h);
        return ax__win_fail(ENOMEM);
    }
    DWORD got = 0;
    BOOL ok = DeviceIoControl(h, FSCTL_GET_REPARSE_POINT, NULL, 0, u, sizeof *u, &got, NULL);
    DWORD e = GetLastError();
    CloseHandle(h);
    if (!ok) {
        free(u);
        if (e == ERROR_NOT_A_REPARSE_POINT) return ax__win_fail(EINVAL);
        SetLastError(e);
        return ax__win_errno(), -1;
    }
    if (u->r.tag != IO_REPARSE_TAG_SYMLINK) {
        free(u);
        return ax__win_fail(EINVAL);
    }
    const WCHAR *p = u->r.path + u->r.print_off / sizeof(WCHAR);
    int n = u->r.print_len / (int)sizeof(WCHAR);
    if (n == 0) { /* no print name: the substitute name without its \??\ */
        p = u->r.path + u->r.subst_off / sizeof(WCHAR);
        n = u->r.subst_len / (int)sizeof(WCHAR);
        if (n >= 4 && wcsncmp(p, L"\\??\\", 4) == 0) {
            p += 4;
            n -= 4;
        }
    }
    int need = n ? WideCharToMultiByte(CP_UTF8, 0, p, n, NULL, 0, NULL, NULL) : 0;
    if (n && need <= 0) {
        free(u);
        return ax__win_errno(), -1;
    }
    char *t = malloc((size_t)need + 1);
    if (!t) {
        free(u);
        return ax__win_fail(ENOMEM);
    }
    if (n) WideCharToMultiByte(CP_UTF8, 0, p, n, t, need, NULL, NULL);
    free(u);
    for (int i = 0; i < need; i++)
        if (t[i] == '\\') t[i] = '/'; /* as it was given (fs_os_win turned '/' into '\') */
    size_t k = (size_t)need < cap ? (size_t)need : cap;
    memcpy(buf, t, k);
    free(t);
    return (int64_t)k;
}

/* ---- directory streams ----------------------------------------------------------------------- */

struct ax__win_dir {
    int fd;
    HANDLE find;
    bool first, done;
    WIN32_FIND_DATAW data;
    struct ax__win_dirent ent;
};

ax__win_dir *ax__win_fdopendir(int fd) {
    wchar_t *w = ax__win_at(fd, ".");
    if (!w) return NULL;
    size_t wl = wcslen(w);
    wchar_t *pat = malloc((wl + 3) * sizeof *pat);
    ax__win_dir *d = calloc(1, sizeof *d);
    if (!pat || !d) {
        free(w);
        free(pat);
        free(d);
        errno = ENOMEM;
        return NULL;
    }
    memcpy(pat, w, wl * sizeof *pat);
    if (wl && pat[wl - 1] != L'\\') pat[wl++] = L'\\';
    pat[wl++] = L'*';
    pat[wl] = 0;
    free(w);
    d->find = FindFirstFileExW(pat, FindExInfoBasic, &d->data, FindExSearchNameMatch, NULL,
                               FIND_FIRST_EX_LARGE_FETCH);
    free(pat);
    if (d->find == INVALID_HANDLE_VALUE) {
        if (GetLastError() != ERROR_FILE_NOT_FOUND) {
            ax__win_errno();
            free(d);
            return NULL;
        }
        d->done = true; /* no entries at all */
    }
    d->fd = fd;
    d->first = true;
    return d;
}

struct ax__win_dirent *ax__win_readdir(ax__win_dir *d) {
    for (;;) {
        if (d->done) return NULL;
        if (!d->first && !FindNextFileW(d->find, &d->data)) {
            d->done = true;
            if (GetLastError() != ERROR_NO_MORE_FILES) ax__win_errno();
            return NULL;
        }
        d->first = false;
        int n = WideCharToMultiByte(CP_UTF8, 0, d->data.cFileName, -1, d->ent.d_name,
                                    (int)sizeof d->ent.d_name, NULL, NULL);
        if (n <= 0) continue; /* cannot be named in UTF-8: skipped */
        DWORD a = d->data.dwFileAttributes;
        if ((a & FILE_ATTRIBUTE_REPARSE_POINT) && d->data.dwReserved0 == IO_REPARSE_TAG_SYMLINK)
            d->ent.d_type = DT_LNK;
        else if (a & FILE_ATTRIBUTE_DIRECTORY)
            d->ent.d_type = DT_DIR;
        else
            d->ent.d_type = DT_REG;
        return &d->ent;
    }
}

int ax__win_closedir(ax__win_dir *d) {
    if (d->find != INVALID_HANDLE_VALUE && d->find) FindClose(d->find);
    int rc = close(d->fd);
    free(d);
    return rc;
}

int ax__win_dirfd(ax__win_dir *d) {
    return d->fd;
}

/* ---- processes, randomness ------------------------------------------------------------------- */

int ax__win_kill(int pid, int sig) {
    if (sig != 0) return ax__win_fail(EINVAL);
    HANDLE p = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, (DWORD)pid);
    if (!p) {
        /* Access denied: it exists, as EPERM from kill says on Unix. */
        if (GetLastError() == ERROR_ACCESS_DENIED) return ax__win_fail(EPERM);
        return ax__win_fail(ESRCH);
    }
    DWORD code = 0;
    BOOL ok = GetExitCodeProcess(p, &code);
    CloseHandle(p);
    if (ok && code != STILL_ACTIVE) return ax__win_fail(ESRCH);
    return 0;
}

int ax__win_raise(int sig) {
    if (sig == SIGSTOP) TerminateProcess(GetCurrentProcess(), 137);
    return (raise)(sig);
}

int64_t ax__win_random(void *buf, size_t len) {
    if (len > 0xffffffffu || !RtlGenRandom(buf, (ULONG)len)) return -1;
    return (int64_t)len;
}

#pragma GCC visibility pop
