/* axon.h - the whole public API of Axon, an async I/O runtime.
 * See README.md and docs/ARCHITECTURE.md. */
#ifndef AXON_H
#define AXON_H

#include "axon/error.h"
#include "axon/future.h"
#include "axon/task.h"
#include "axon/runtime.h"
#include "axon/embed.h"
#include "axon/time.h"
#include "axon/io.h"
#include "axon/metrics.h"
#include "axon/cancel.h"
#include "axon/sync.h"
#include "axon/combinators.h"
#include "axon/blocking.h"
#include "axon/policy.h"
#include "axon/buf.h"
#include "axon/stream.h"
#include "axon/addr.h"
#include "axon/dns.h"
#include "axon/tcp.h"
#include "axon/udp.h"
#include "axon/unix.h"
#include "axon/pool.h"
#include "axon/fs.h"
#include "axon/tls.h"
#include "axon/http_parse.h"
#include "axon/http.h"
#include "axon/http_metrics.h"
#include "axon/http_middleware.h"
#include "axon/http_static.h"
#include "axon/http_client.h"

#endif
