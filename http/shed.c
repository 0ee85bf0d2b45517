/* http/shed.c - load shedding: the thresholds and the 503 answer. The
 * checks themselves sit where the facts are (conn.c: connections at
 * accept, handlers in flight before each handler). */
#include <stdio.h>

#include "http/internal.h"

int ax_http_server_set_shed(ax_http_server *srv, const ax_http_shed_opts *opts) {
    if (!srv || !opts) return AX_EINVAL;
    if (srv->rt) return AX_EBUSY;
    srv->shed = *opts;
    if (!srv->shed.retry_after_s) srv->shed.retry_after_s = 1;
    srv->track_inflight = srv->metrics || srv->shed.max_inflight;
    return 0;
}

int ax__http_shed_answer(ax_http_res *res) {
    ax_http_server *srv = res->io->srv;
    if (srv->metrics) ax__http_metrics_add(&srv->metrics->shed, 1);
    char ra[16];
    snprintf(ra, sizeof ra, "%u", srv->shed.retry_after_s ? srv->shed.retry_after_s : 1);
    res->hlen = 0;
    ax_http_res_header(res, "Retry-After", ra);
    ax_http_res_close(res);
    return ax_http_res_send(res, 503, "text/plain", "Service Unavailable\n", 20);
}
