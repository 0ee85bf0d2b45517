/* fs/file_jobs.h - private: the job kinds file handles use (file_jobs.c). */
#ifndef AX_FS_FILE_JOBS_H
#define AX_FS_FILE_JOBS_H

#include "fs/fs_internal.h"

#pragma GCC visibility push(hidden)

enum { AX__FDOP_TRUNCATE = 1, AX__FDOP_SYNC, AX__FDOP_DATASYNC, AX__FDOP_STAT };

/* Each needs j->fd. readahead / writebehind borrow the handle's buffer in
 * j->data (capacity j->dlen, j->len bytes to transfer at j->off) and give
 * it back through out[0] / out[1]; read_at reads into j->data (the job's)
 * and copies to out[0]; read_chunk returns a new ax_buf in *out[0]; fdop
 * runs j->flags (stat into *out[0]); commit renames j->path over j->path2
 * in j->aux_fd; write_lent pwrites the caller's j->dlen bytes in j->data
 * (borrowed) at j->off, awaited with ax__fs_await_borrowed. */
extern const ax__fs_kind ax__kind_readahead, ax__kind_writebehind, ax__kind_write_at,
    ax__kind_read_at, ax__kind_read_chunk, ax__kind_fdop, ax__kind_commit, ax__kind_write_lent;

#pragma GCC visibility pop

#endif
