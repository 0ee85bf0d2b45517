/* fs/fs_os.h - private to fs/: the platform seam under the file layer.
 *
 * fs/ is written against the POSIX file API (open/openat, pread/pwrite,
 * fstat/fstatat, fsync, renameat, unlinkat, mkdirat, symlinkat,
 * readlinkat, fdopendir/readdir), with descriptors as ints. On Unix this
 * header only pulls in the Unix shims (reactor/os_unix.h): every call is
 * the system's own, so the Linux build is the very code it was.
 *
 * On Windows there is no such API, and this header supplies it, the way
 * gnulib replaces a missing function: each POSIX name fs/ uses is a macro
 * naming an ax__win_* function in fs/fs_os_win.c that does the same job
 * with Win32 (CreateFileW with UTF-8 paths converted to UTF-16,
 * ReadFile/WriteFile with OVERLAPPED offsets, FlushFileBuffers,
 * MoveFileExW(MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH),
 * FILE_APPEND_DATA, FindFirstFileExW, CreateDirectoryW,
 * DeleteFileW/RemoveDirectoryW, CreateSymbolicLinkW,
 * GetFileInformationByHandle(Ex)) and reports failure POSIX-style
 * (-1 and errno, mapped from GetLastError by ax__win_errno), so fs/ turns
 * it into an AX_E* exactly as on Unix. A descriptor is a C-runtime
 * descriptor wrapping the Win32 handle (_open_osfhandle), so close()
 * is the C runtime's and closes the handle. The macros are defined after
 * the system headers (fs_internal.h includes this header last), so they
 * rename only the calls of files that include fs/fs_internal.h: fs/ and
 * http/static_send.c (which reads a handle's descriptor).
 *
 * Where Windows differs, and what the functions do about it:
 *  - A directory descriptor (openat's dirfd, O_PATH, O_DIRECTORY) is a
 *    handle opened with FILE_FLAG_BACKUP_SEMANTICS; the *at calls resolve
 *    name against the directory's final path (GetFinalPathNameByHandleW).
 *    They are path-based underneath: unlike Linux's *at calls they do not
 *    pin the directory, so a directory renamed between the open and the
 *    call is looked up by its new path (found by its handle), not by name.
 *  - Files are opened with FILE_SHARE_READ | FILE_SHARE_WRITE |
 *    FILE_SHARE_DELETE, so an open file can be renamed or removed as on
 *    Unix (its name may linger until the last handle closes on older
 *    Windows versions). Renaming *over* a file another handle has open
 *    is refused by MoveFileExW (and always by wine): renameat fails with
 *    EACCES (AX_EACCES) there, where Linux replaces the name. A read-only
 *    target is replaced (its attribute is taken off first), as on Unix.
 *  - pread/pwrite use the handle's OVERLAPPED offset; on a synchronous
 *    handle Windows also moves the file pointer (POSIX leaves it). fs/
 *    keeps its own positions and never mixes read() and pread() on one
 *    handle, so nothing depends on it. On a named pipe the offset is
 *    ignored (POSIX fails with ESPIPE, after which fs/ calls read: the
 *    same bytes). A named pipe (\\.\pipe\NAME) opens like a FIFO and
 *    stats as S_IFIFO.
 *  - fsync of a directory fails with EINVAL (Windows cannot flush a
 *    directory handle; fs/ already ignores EINVAL there): the rename is
 *    made durable by MOVEFILE_WRITE_THROUGH instead.
 *  - Permission bits: only the owner's write bit exists, as the read-only
 *    attribute (st_mode is 0644 / 0444 for files, 0755 for directories,
 *    0777 for links); fchmod sets or clears that attribute.
 *  - symlinkat needs the "create symbolic links" privilege or Developer
 *    Mode (SYMBOLIC_LINK_FLAG_ALLOW_UNPRIVILEGED_CREATE): without it the
 *    call fails with EPERM (AX_EPERM).
 *  - kill(pid, 0) only asks whether the process exists; raise(SIGSTOP)
 *    (the test hook of atomic.c) ends the process at once with exit code
 *    137, which is what the tests do to a stopped writer on Unix.
 *  - Policy roots (openat2 with RESOLVE_BENEATH) are not offered on
 *    Windows: ax_policy_allow_read/write return AX_ENOTSUP there (see
 *    executor/policy.c), so fs/ never opens beneath a root on Windows.
 *
 * Thread-safety: every function is as thread-safe as the Win32 calls it
 * makes (all of them may run on several pool threads at once).
 */
#ifndef AX_FS_FS_OS_H
#define AX_FS_FS_OS_H

#ifndef _WIN32

#include "reactor/os_unix.h"

#else /* _WIN32 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <stdint.h>
#include <stdio.h> /* SEEK_SET, as unistd.h gives it on Unix */
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#pragma GCC visibility push(hidden)

/* Offsets are 64-bit (mingw's off_t is 32-bit without _FILE_OFFSET_BITS). */
#undef off_t
#define off_t       int64_t

/* Flags the C runtime lacks; values outside its _O_* bits. O_CLOEXEC is
 * _O_NOINHERIT (handles are never inherited); _O_BINARY is implied. */
#define O_CLOEXEC   _O_NOINHERIT
#define O_DIRECTORY 0x00200000
#define O_NOFOLLOW  0x00400000
#define O_PATH      0x00800000
#define O_NONBLOCK  0x01000000

#define AT_FDCWD            (-100)
#define AT_SYMLINK_NOFOLLOW 0x100
#define AT_REMOVEDIR        0x200
#define F_DUPFD_CLOEXEC     1030

#ifndef S_IFLNK
#define S_IFLNK 0xA000
#endif
#ifndef S_ISLNK
#define S_ISLNK(m) (((m)&S_IFMT) == S_IFLNK)
#endif
#ifndef SIGSTOP
#define SIGSTOP 19
#endif
#ifndef ELOOP
#define ELOOP 114
#endif

/* struct stat with what ax__fs_fill_stat reads: nanosecond times (Unix
 * epoch), the volume serial number as st_dev and the file index as
 * st_ino; st_uid and st_gid are 0. */
struct ax__win_stat {
    unsigned st_mode;
    int64_t st_size;
    uint64_t st_nlink, st_ino, st_dev;
    unsigned st_uid, st_gid;
    struct timespec st_atim, st_mtim, st_ctim;
};
#define AX__ST_ATIM(st) ((st)->st_atim)
#define AX__ST_MTIM(st) ((st)->st_mtim)
#define AX__ST_CTIM(st) ((st)->st_ctim)

/* A directory stream (FindFirstFileExW), with d_type as on Linux. */
enum { DT_UNKNOWN = 0, DT_DIR = 4, DT_REG = 8, DT_LNK = 10 };
struct ax__win_dirent {
    unsigned char d_type;
    char d_name[260 * 3 + 1]; /* a UTF-16 name of up to 260 units, as UTF-8 */
};
typedef struct ax__win_dir ax__win_dir;

/* The last Win32 error (GetLastError) as an errno value; sets errno too. */
int ax__win_errno(void);

int ax__win_open(const char *path, int oflags, ...);
int ax__win_openat(int dirfd, const char *name, int oflags, ...);
int64_t ax__win_read(int fd, void *buf, size_t len);
int64_t ax__win_write(int fd, const void *buf, size_t len);
int64_t ax__win_pread(int fd, void *buf, size_t len, int64_t off);
int64_t ax__win_pwrite(int fd, const void *buf, size_t len, int64_t off);
int ax__win_fstat(int fd, struct ax__win_stat *st);
int ax__win_fstatat(int dirfd, const char *name, struct ax__win_stat *st, int flags);
int ax__win_stat(const char *path, struct ax__win_stat *st);
int ax__win_fsync(int fd);
int ax__win_ftruncate(int fd, int64_t len);
int ax__win_fchmod(int fd, unsigned mode);
int ax__win_fcntl(int fd, int cmd, int arg); /* F_DUPFD_CLOEXEC only */
int ax__win_renameat(int d1, const char *n1, int d2, const char *n2);
int ax__win_unlinkat(int dirfd, const char *name, int flags);
int ax__win_mkdirat(int dirfd, const char *name, unsigned mode);
int ax__win_symlinkat(const char *target, int dirfd, const char *name);
int64_t ax__win_readlinkat(int dirfd, const char *name, char *buf, size_t cap);
ax__win_dir *ax__win_fdopendir(int fd); /* takes fd over */
struct ax__win_dirent *ax__win_readdir(ax__win_dir *d);
int ax__win_closedir(ax__win_dir *d);
int ax__win_dirfd(ax__win_dir *d);
int ax__win_kill(int pid, int sig);            /* sig 0 only */
int ax__win_raise(int sig);                    /* SIGSTOP: exit(137); else the C runtime's */
int64_t ax__win_random(void *buf, size_t len); /* RtlGenRandom; -1 on failure */

#undef stat
#undef fstat
#undef DIR
#undef dirent
#define stat                     ax__win_stat
#define DIR                      ax__win_dir
#define dirent                   ax__win_dirent
#define open                     ax__win_open
#define openat                   ax__win_openat
#define read(fd, b, n)           ax__win_read(fd, b, n)
#define write(fd, b, n)          ax__win_write(fd, b, n)
#define pread(fd, b, n, o)       ax__win_pread(fd, b, n, o)
#define pwrite(fd, b, n, o)      ax__win_pwrite(fd, b, n, o)
#define fstat(fd, st)            ax__win_fstat(fd, st)
#define fstatat(d, n, st, f)     ax__win_fstatat(d, n, st, f)
#define lstat(p, st)             ax__win_fstatat(AT_FDCWD, p, st, AT_SYMLINK_NOFOLLOW)
#define fsync(fd)                ax__win_fsync(fd)
#define ax__fdatasync(fd)        ax__win_fsync(fd)
#define ftruncate(fd, n)         ax__win_ftruncate(fd, n)
#define fchmod(fd, m)            ax__win_fchmod(fd, m)
#define fcntl(fd, c, a)          ax__win_fcntl(fd, c, a)
#define renameat(d1, n1, d2, n2) ax__win_renameat(d1, n1, d2, n2)
#define unlinkat(d, n, f)        ax__win_unlinkat(d, n, f)
#define mkdirat(d, n, m)         ax__win_mkdirat(d, n, m)
#define symlinkat(t, d, n)       ax__win_symlinkat(t, d, n)
#define readlinkat(d, n, b, c)   ax__win_readlinkat(d, n, b, c)
#define fdopendir(fd)            ax__win_fdopendir(fd)
#define readdir(d)               ax__win_readdir(d)
#define closedir(d)              ax__win_closedir(d)
#define dirfd(d)                 ax__win_dirfd(d)
#define kill(p, s)               ax__win_kill(p, s)
#define raise(s)                 ax__win_raise(s)
#define ax__random_bytes(b, n)   ax__win_random(b, n)

#pragma GCC visibility pop

#endif /* _WIN32 */

#endif
