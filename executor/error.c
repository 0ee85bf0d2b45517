/* Error names and messages. AX_E* codes are negated errno values on Unix,
 * so translation is a negation; the tables come from the X-macros in
 * include/axon/error.h so names and values cannot drift apart. */
#include "axon/error.h"

#include <stddef.h>

struct ax__err_desc {
    int code;
    const char *name;
    const char *msg;
};

static const struct ax__err_desc ax__errors[] = {
#define AX__ERR_ROW(name, val, msg) {AX_##name, "AX_" #name, msg},
    AX_ERRNO_MAP(AX__ERR_ROW) AX_OWN_ERROR_MAP(AX__ERR_ROW)
#undef AX__ERR_ROW
};

static const struct ax__err_desc *ax__err_find(int err) {
    for (size_t i = 0; i < sizeof(ax__errors) / sizeof(ax__errors[0]); i++)
        if (ax__errors[i].code == err) return &ax__errors[i];
    return NULL;
}

const char *ax_strerror(int err) {
    const struct ax__err_desc *d = ax__err_find(err);
    return d ? d->msg : "unknown error";
}

const char *ax_err_name(int err) {
    const struct ax__err_desc *d = ax__err_find(err);
    return d ? d->name : "AX_UNKNOWN";
}

int ax_translate_sys_error(int sys_errno) {
    if (sys_errno <= 0) return sys_errno;
#if EOPNOTSUPP != ENOTSUP
    /* macOS and the BSDs give EOPNOTSUPP a number of its own; on Linux it
     * aliases ENOTSUP, as EWOULDBLOCK aliases EAGAIN. */
    if (sys_errno == EOPNOTSUPP) return AX_ENOTSUP;
#endif
    return -sys_errno;
}
