/* executor/signal_win.c - Windows has no POSIX signals to wait for: the
 * runtime accepts no signal set (AX_ENOTSUP from ax_runtime_new when
 * ax_runtime_opts.signals is set) and ax_signal_wait returns AX_ENOTSUP.
 * Console control events (Ctrl-C) are a different mechanism, not mapped. */
#include "executor/internal.h"

int ax__signals_init(ax_runtime *rt, const sigset_t *set) {
    (void)rt;
    (void)set;
    return AX_ENOTSUP;
}

void ax__signals_free(ax_runtime *rt) {
    (void)rt;
}

int ax_signal_wait(const sigset_t *set, ax_instant deadline) {
    (void)set;
    (void)deadline;
    return AX_ENOTSUP;
}
