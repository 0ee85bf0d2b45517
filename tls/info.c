/* tls/info.c - what a connection negotiated, and why it failed. These read
 * the SSL object without the connection's lock: like reads, they belong to
 * the connection's user, not to a concurrent writer. */
#include <stdio.h>
#include <string.h>

#include <openssl/x509.h>

#include "tls/tls_internal.h"

const char *ax_tls_version(const ax_tls *t) {
    return t->hs_done ? SSL_get_version(t->ssl) : NULL;
}

const char *ax_tls_cipher(const ax_tls *t) {
    const SSL_CIPHER *c = t->hs_done ? SSL_get_current_cipher(t->ssl) : NULL;
    return c ? SSL_CIPHER_standard_name(c) : NULL;
}

const char *ax_tls_alpn(const ax_tls *t) {
    /* BoringSSL's bytes are not NUL-terminated; the protocol names this
     * side offered are, inside the config's wire list. */
    const uint8_t *p;
    unsigned len;
    if (!t->hs_done) return NULL;
    SSL_get0_alpn_selected(t->ssl, &p, &len);
    const ax_tls_config *cfg = t->cfg;
    for (size_t i = 0; len && i < cfg->alpn_len; i += 1u + cfg->alpn[i])
        if (cfg->alpn[i] == len && memcmp(cfg->alpn + i + 1, p, len) == 0)
            return ax__tls_alpn_name(cfg, i);
    return NULL;
}

const char *ax_tls_server_name(const ax_tls *t) {
    if (!t->server) return t->server_name;
    return SSL_get_servername(t->ssl, TLSEXT_NAMETYPE_host_name);
}

bool ax_tls_session_reused(const ax_tls *t) {
    return t->hs_done && SSL_session_reused(t->ssl);
}

int ax_tls_peer_subject(const ax_tls *t, char *buf, size_t cap) {
    X509 *x = SSL_get_peer_certificate(t->ssl);
    if (!x) return AX_ENOENT;
    if (cap == 0) {
        X509_free(x);
        return AX_EINVAL;
    }
    X509_NAME_oneline(X509_get_subject_name(x), buf, cap > INT32_MAX ? INT32_MAX : (int)cap);
    X509_free(x);
    return (int)strlen(buf);
}

const char *ax_tls_error_text(const ax_tls *t) {
    return t->err_text;
}
