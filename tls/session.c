/* tls/session.c - the client's session cache: the newest session (TLS 1.2
 * session or TLS 1.3 ticket) for each server name, at most sess_cap names,
 * the least recently used dropped first. BoringSSL hands new sessions over
 * through the new-session callback, which may run inside any read (TLS 1.3
 * tickets arrive after the handshake); a handshake to the same name then
 * offers it. The lock guards a few pointer moves and a linear search.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tls/tls_internal.h"

int ax__tls_sessions_init(ax_tls_config *cfg, int cap) {
    cfg->sess = calloc((size_t)cap, sizeof *cfg->sess);
    if (!cfg->sess) return AX_ENOMEM;
    cfg->sess_cap = cap;
    return 0;
}

void ax__tls_sessions_free(ax_tls_config *cfg) {
    for (int i = 0; i < cfg->sess_cap; i++) {
        free(cfg->sess[i].name);
        SSL_SESSION_free(cfg->sess[i].sess);
    }
    free(cfg->sess);
    cfg->sess = NULL;
    cfg->sess_cap = 0;
}

static ax__tls_sess *ax__find_locked(ax_tls_config *cfg, const char *name) {
    for (int i = 0; i < cfg->sess_cap; i++)
        if (cfg->sess[i].name && strcasecmp(cfg->sess[i].name, name) == 0) return &cfg->sess[i];
    return NULL;
}

void ax__tls_session_apply(ax_tls *t) {
    ax_tls_config *cfg = t->cfg;
    if (!cfg->sess || !t->server_name) return;
    SSL_SESSION *s = NULL;
    pthread_mutex_lock(&cfg->lock);
    ax__tls_sess *e = ax__find_locked(cfg, t->server_name);
    if (e) {
        s = e->sess;
        SSL_SESSION_up_ref(s);
        e->used = ++cfg->sess_clock;
    }
    pthread_mutex_unlock(&cfg->lock);
    if (s) {
        SSL_set_session(t->ssl, s);
        SSL_SESSION_free(s);
    }
}

int ax__tls_session_new_cb(SSL *ssl, SSL_SESSION *sess) {
    ax_tls *t = SSL_get_app_data(ssl);
    ax_tls_config *cfg = t->cfg;
    if (!cfg->sess || !t->server_name) return 0; /* not kept: BoringSSL frees it */
    char *name = NULL;
    SSL_SESSION *old = NULL;
    pthread_mutex_lock(&cfg->lock);
    ax__tls_sess *e = ax__find_locked(cfg, t->server_name);
    if (!e) { /* an empty slot, else the least recently used */
        e = &cfg->sess[0];
        for (int i = 0; i < cfg->sess_cap && e->name; i++)
            if (!cfg->sess[i].name || cfg->sess[i].used < e->used) e = &cfg->sess[i];
        name = e->name;
        e->name = strdup(t->server_name);
        if (!e->name) {
            old = e->sess;
            e->sess = NULL;
            e->used = 0;
            pthread_mutex_unlock(&cfg->lock);
            free(name);
            SSL_SESSION_free(old);
            return 0;
        }
    }
    old = e->sess;
    e->sess = sess; /* the cache takes BoringSSL's reference */
    e->used = ++cfg->sess_clock;
    pthread_mutex_unlock(&cfg->lock);
    free(name);
    SSL_SESSION_free(old);
    return 1;
}
