/* tls/config.c - client and server configurations: one SSL_CTX each with
 * the versions, suites, ALPN and trust store fixed at creation, plus the
 * server's certificates by SNI name, which can be replaced at any time.
 *
 * A server's SSL_CTX holds no certificate: the certificate callback, which
 * BoringSSL calls after reading the ClientHello, picks the pair for the
 * name the client asked for (or the default) under the config's lock and
 * installs it on that one connection. A reload swaps the pair in the table;
 * connections that already hold the old one keep it by reference.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "tls/tls_internal.h"

/* TLS 1.2 suites: ECDHE key exchange with an AEAD, nothing else (TLS 1.3's
 * suites are all AEAD and fixed by BoringSSL). */
static const char ax__tls12_suites[] = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                                       "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                                       "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

#define AX__SYSTEM_CA_DIR "/etc/ssl/certs"

void ax_tls_opts_init(ax_tls_opts *o) {
    memset(o, 0, sizeof *o);
}

void ax__tls_config_ref(ax_tls_config *cfg) {
    atomic_fetch_add_explicit(&cfg->refs, 1, memory_order_relaxed);
}

/* --- key pairs ----------------------------------------------------------------- */

void ax__tls_keypair_unref(ax__tls_keypair *kp) {
    if (!kp || atomic_fetch_sub_explicit(&kp->refs, 1, memory_order_acq_rel) != 1) return;
    for (size_t i = 0; i < kp->n; i++) CRYPTO_BUFFER_free(kp->certs[i]);
    free(kp->certs);
    EVP_PKEY_free(kp->key);
    free(kp);
}

static int ax__open_pem(const char *path, FILE **out) {
    *out = fopen(path, "re");
    if (!*out) return errno == ENOENT || errno == EACCES ? -errno : AX_ECERT;
    return 0;
}

int ax__tls_keypair_load(const char *cert_file, const char *key_file, ax__tls_keypair **out) {
    if (!cert_file || !key_file) return AX_EINVAL;
    FILE *cf, *kf;
    int err = ax__open_pem(cert_file, &cf);
    if (err) return err;
    if ((err = ax__open_pem(key_file, &kf))) {
        fclose(cf);
        return err;
    }
    ax__tls_keypair *kp = calloc(1, sizeof *kp);
    X509 *leaf = NULL;
    err = kp ? AX_ECERT : AX_ENOMEM;
    if (kp) atomic_init(&kp->refs, 1);
    for (X509 *x; kp && (x = PEM_read_X509(cf, NULL, NULL, NULL));) {
        uint8_t *der = NULL;
        int len = i2d_X509(x, &der);
        CRYPTO_BUFFER **grown = realloc(kp->certs, (kp->n + 1) * sizeof *grown);
        if (len <= 0 || !grown) {
            OPENSSL_free(der);
            X509_free(x);
            free(grown ? grown : kp->certs);
            kp->certs = NULL;
            kp->n = 0;
            err = AX_ENOMEM;
            break;
        }
        kp->certs = grown;
        kp->certs[kp->n++] = CRYPTO_BUFFER_new(der, (size_t)len, NULL);
        OPENSSL_free(der);
        if (!leaf)
            leaf = x;
        else
            X509_free(x);
    }
    if (kp && leaf) kp->key = PEM_read_PrivateKey(kf, NULL, NULL, NULL);
    if (kp && leaf && kp->key && X509_check_private_key(leaf, kp->key) == 1) err = 0;
    for (size_t i = 0; kp && i < kp->n; i++)
        if (!kp->certs[i]) err = AX_ENOMEM;
    X509_free(leaf);
    fclose(cf);
    fclose(kf);
    ERR_clear_error();
    if (err) {
        if (kp) ax__tls_keypair_unref(kp);
        return err;
    }
    *out = kp;
    return 0;
}

/* --- the certificate callback (server) ------------------------------------------ */

static ax__tls_keypair *ax__pick_locked(ax_tls_config *cfg, const char *name) {
    ax__tls_keypair *def = NULL;
    for (size_t i = 0; i < cfg->ncerts; i++) {
        if (!cfg->certs[i].name)
            def = cfg->certs[i].kp;
        else if (name && strcasecmp(cfg->certs[i].name, name) == 0)
            return cfg->certs[i].kp;
    }
    return def;
}

static int ax__cert_cb(SSL *ssl, void *arg) {
    ax_tls_config *cfg = arg;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    pthread_mutex_lock(&cfg->lock);
    ax__tls_keypair *kp = ax__pick_locked(cfg, name);
    if (kp) atomic_fetch_add_explicit(&kp->refs, 1, memory_order_relaxed);
    pthread_mutex_unlock(&cfg->lock);
    if (!kp) return 0; /* no certificate at all: the handshake fails */
    int ok = SSL_set_chain_and_key(ssl, kp->certs, kp->n, kp->key, NULL);
    ax__tls_keypair_unref(kp); /* ssl took its own references */
    return ok;
}

int ax_tls_config_set_cert(ax_tls_config *cfg, const char *server_name, const char *cert_file,
                           const char *key_file) {
    if (!cfg || !cfg->server) return AX_EINVAL;
    ax__tls_keypair *kp;
    int err = ax__tls_keypair_load(cert_file, key_file, &kp);
    if (err) return err;
    char *name = server_name ? strdup(server_name) : NULL;
    if (server_name && !name) {
        ax__tls_keypair_unref(kp);
        return AX_ENOMEM;
    }
    ax__tls_keypair *old = NULL;
    pthread_mutex_lock(&cfg->lock);
    size_t i;
    for (i = 0; i < cfg->ncerts; i++) {
        const char *n = cfg->certs[i].name;
        if ((!n && !name) || (n && name && strcasecmp(n, name) == 0)) break;
    }
    if (i < cfg->ncerts) {
        old = cfg->certs[i].kp;
        cfg->certs[i].kp = kp;
        free(name);
    } else {
        ax__tls_named *grown = realloc(cfg->certs, (cfg->ncerts + 1) * sizeof *grown);
        if (!grown) {
            err = AX_ENOMEM;
            old = kp;
            free(name);
        } else {
            cfg->certs = grown;
            cfg->certs[cfg->ncerts++] = (ax__tls_named){name, kp};
        }
    }
    pthread_mutex_unlock(&cfg->lock);
    ax__tls_keypair_unref(old);
    return err;
}

/* --- ALPN ---------------------------------------------------------------------- */

/* "h2,http/1.1" into the wire format. */
static int ax__alpn_wire(const char *list, uint8_t **out, size_t *len) {
    size_t n = strlen(list);
    uint8_t *w = malloc(n + 1);
    if (!w) return AX_ENOMEM;
    size_t k = 0;
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == 0 || l > 255) {
            free(w);
            return AX_EINVAL;
        }
        w[k++] = (uint8_t)l;
        memcpy(w + k, p, l);
        k += l;
        p += l + (e ? 1 : 0);
        if (e && !*p) {
            free(w);
            return AX_EINVAL;
        }
    }
    if (k == 0) {
        free(w);
        return AX_EINVAL;
    }
    *out = w;
    *len = k;
    return 0;
}

/* The wire list with each length byte moved behind its name as a NUL. */
static char *ax__alpn_names(const uint8_t *w, size_t len) {
    char *names = malloc(len + 1);
    if (!names) return NULL;
    for (size_t i = 0; i < len; i += 1u + w[i]) {
        memcpy(names + i, w + i + 1, w[i]);
        names[i + w[i]] = 0;
    }
    return names;
}

/* The server's preference wins: its first protocol the client offered. */
static int ax__alpn_select(SSL *ssl, const uint8_t **out, uint8_t *outlen, const uint8_t *in,
                           unsigned inlen, void *arg) {
    ax_tls_config *cfg = arg;
    for (size_t i = 0; i < cfg->alpn_len; i += 1u + cfg->alpn[i]) {
        for (unsigned j = 0; j < inlen; j += 1u + in[j]) {
            if (j + 1u + in[j] > inlen) break;
            if (in[j] == cfg->alpn[i] && memcmp(in + j + 1, cfg->alpn + i + 1, in[j]) == 0) {
                *out = in + j + 1;
                *outlen = in[j];
                return SSL_TLSEXT_ERR_OK;
            }
        }
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL; /* no_application_protocol */
}

/* --- configs ------------------------------------------------------------------- */

static int ax__config_new(const ax_tls_opts *opts, bool server, ax_tls_config **out) {
    ax_tls_opts o;
    if (opts)
        o = *opts;
    else
        ax_tls_opts_init(&o);
    if (!out) return AX_EINVAL;
    uint16_t min = o.min_version ? o.min_version : AX_TLS_1_2;
    if (min != AX_TLS_1_2 && min != AX_TLS_1_3) return AX_EINVAL;
    if (o.client_auth < AX_TLS_CLIENT_CERT_NONE || o.client_auth > AX_TLS_CLIENT_CERT_REQUIRE)
        return AX_EINVAL;
    if (server && (!o.cert_file || !o.key_file)) return AX_EINVAL;
    if (!o.cert_file != !o.key_file) return AX_EINVAL;
    ax_tls_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg) return AX_ENOMEM;
    atomic_init(&cfg->refs, 1);
    cfg->server = server;
    cfg->insecure = !server && o.insecure_skip_verify;
    pthread_mutex_init(&cfg->lock, NULL);
    int err = AX_ENOMEM;
    if (!(cfg->ctx = SSL_CTX_new(TLS_method()))) goto fail;
    SSL_CTX *ctx = cfg->ctx;
    if (!SSL_CTX_set_min_proto_version(ctx, min) ||
        !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) ||
        !SSL_CTX_set_strict_cipher_list(ctx, ax__tls12_suites))
        goto fail;
    if (o.alpn) {
        if ((err = ax__alpn_wire(o.alpn, &cfg->alpn, &cfg->alpn_len))) goto fail;
        err = AX_ENOMEM;
        if (!(cfg->alpn_names = ax__alpn_names(cfg->alpn, cfg->alpn_len))) goto fail;
    }
    /* The trust store: clients always (unless insecure), servers for mTLS. */
    bool verify = server ? o.client_auth != AX_TLS_CLIENT_CERT_NONE : !cfg->insecure;
    if (verify) {
        const char *file = o.ca_file, *dir = o.ca_dir;
        if (!file && !dir) dir = AX__SYSTEM_CA_DIR;
        if (!SSL_CTX_load_verify_locations(ctx, file, dir)) {
            err = file && access(file, R_OK) ? ax_translate_sys_error(errno) : AX_ECERT;
            goto fail;
        }
        int mode = SSL_VERIFY_PEER;
        if (server && o.client_auth == AX_TLS_CLIENT_CERT_REQUIRE)
            mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        SSL_CTX_set_verify(ctx, mode, ax__tls_verify_cb);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    if (server) {
        static const uint8_t sid_ctx[] = "axon";
        SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1);
        SSL_CTX_set_cert_cb(ctx, ax__cert_cb, cfg);
        ax__tls_tickets_init(cfg, o.ticket_lifetime_s);
        if (cfg->alpn) SSL_CTX_set_alpn_select_cb(ctx, ax__alpn_select, cfg);
        if ((err = ax_tls_config_set_cert(cfg, NULL, o.cert_file, o.key_file))) goto fail;
    } else {
        if (o.cert_file) {
            ax__tls_keypair *kp;
            if ((err = ax__tls_keypair_load(o.cert_file, o.key_file, &kp))) goto fail;
            int ok = SSL_CTX_set_chain_and_key(ctx, kp->certs, kp->n, kp->key, NULL);
            ax__tls_keypair_unref(kp);
            if (!ok) {
                err = AX_ECERT;
                goto fail;
            }
        }
        if (o.session_cache >= 0) {
            if ((err = ax__tls_sessions_init(cfg, o.session_cache ? o.session_cache : 256)))
                goto fail;
            SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
            SSL_CTX_sess_set_new_cb(ctx, ax__tls_session_new_cb);
        } else {
            SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        }
    }
    ERR_clear_error();
    *out = cfg;
    return 0;
fail:
    ERR_clear_error();
    ax_tls_config_free(cfg);
    return err;
}

int ax_tls_client_config_new(const ax_tls_opts *o, ax_tls_config **out) {
    return ax__config_new(o, false, out);
}

int ax_tls_server_config_new(const ax_tls_opts *o, ax_tls_config **out) {
    return ax__config_new(o, true, out);
}

void ax_tls_config_free(ax_tls_config *cfg) {
    if (!cfg || atomic_fetch_sub_explicit(&cfg->refs, 1, memory_order_acq_rel) != 1) return;
    OPENSSL_cleanse(cfg->tickets, sizeof cfg->tickets);
    SSL_CTX_free(cfg->ctx);
    for (size_t i = 0; i < cfg->ncerts; i++) {
        free(cfg->certs[i].name);
        ax__tls_keypair_unref(cfg->certs[i].kp);
    }
    free(cfg->certs);
    ax__tls_sessions_free(cfg);
    free(cfg->alpn);
    free(cfg->alpn_names);
    pthread_mutex_destroy(&cfg->lock);
    free(cfg);
}
