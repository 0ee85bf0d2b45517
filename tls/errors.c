/* tls/errors.c - why a TLS call failed, as an AX_E* code and a sentence.
 *
 * BoringSSL keeps its error queue per thread, and a task may resume on
 * another thread after any suspension, so the queue is read and cleared
 * here, inside the poll that produced it, and what it said is kept in the
 * connection (t->err_text). Certificate failures are recorded by the
 * verify callback, which sees the failing certificate itself: its reason
 * and subject make the message.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "tls/tls_internal.h"

int ax__tls_verify_cb(int ok, X509_STORE_CTX *store) {
    if (ok) return 1;
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    ax_tls *t = ssl ? SSL_get_app_data(ssl) : NULL;
    if (t && !t->verify_err) {
        t->verify_err = X509_STORE_CTX_get_error(store);
        t->verify_depth = X509_STORE_CTX_get_error_depth(store);
        X509 *cert = X509_STORE_CTX_get_current_cert(store);
        t->verify_subject[0] = 0;
        if (cert)
            X509_NAME_oneline(X509_get_subject_name(cert), t->verify_subject,
                              (int)sizeof t->verify_subject);
    }
    return 0;
}

static int ax__verify_code(int v) {
    switch (v) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return AX_ECERTEXPIRED;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
        return AX_ECERTNAME;
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        return AX_ECERTSELF;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        return AX_ECERTUNTRUSTED;
    default:
        return AX_ECERT;
    }
}

/* The code for an error-queue entry, with its sentence in t->err_text. */
static int ax__from_queue(ax_tls *t, uint32_t e) {
    int reason = ERR_GET_REASON(e);
    if (ERR_GET_LIB(e) != ERR_LIB_SSL) {
        snprintf(t->err_text, sizeof t->err_text, "%s", ERR_reason_error_string(e));
        return AX_ETLS;
    }
    if (reason == SSL_R_CERTIFICATE_VERIFY_FAILED && t->verify_err) {
        snprintf(t->err_text, sizeof t->err_text,
                 "certificate verify failed: %s (depth %d, subject %s)",
                 X509_verify_cert_error_string(t->verify_err), t->verify_depth,
                 t->verify_subject[0] ? t->verify_subject : "?");
        return ax__verify_code(t->verify_err);
    }
    if (reason >= SSL_AD_REASON_OFFSET && reason < SSL_AD_REASON_OFFSET + 256) {
        int alert = reason - SSL_AD_REASON_OFFSET;
        snprintf(t->err_text, sizeof t->err_text, "peer sent alert %s (%d)",
                 SSL_alert_desc_string_long(alert), alert);
        switch (alert) {
        case SSL_AD_PROTOCOL_VERSION:
            return AX_ETLSVERSION;
        case SSL_AD_NO_APPLICATION_PROTOCOL:
            return AX_ETLSALPN;
        default:
            return AX_ETLSALERT;
        }
    }
    const char *why = ERR_reason_error_string(e);
    snprintf(t->err_text, sizeof t->err_text, "%s", why ? why : "TLS error");
    switch (reason) {
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_NO_SUPPORTED_VERSIONS_ENABLED:
        return AX_ETLSVERSION;
    case SSL_R_NO_SHARED_CIPHER:
        return AX_ETLSCIPHER;
    case SSL_R_NO_APPLICATION_PROTOCOL:
        return AX_ETLSALPN;
    case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
        return AX_ECERTREQUIRED;
    case SSL_R_CERTIFICATE_VERIFY_FAILED:
        return AX_ECERT;
    default:
        return AX_ETLS;
    }
}

ax_poll ax__tls_classify(ax_tls *t, int ret, ax_context *cx, int *err) {
    int kind = SSL_get_error(t->ssl, ret);
    uint32_t e = ERR_peek_error();
    ERR_clear_error();
    switch (kind) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        if (!t->read_pending) ax_waker_wake_by_ref(cx->waker); /* nothing stored: poll again */
        return AX_PENDING;
    case SSL_ERROR_ZERO_RETURN:
        *err = 0;
        return AX_READY;
    case SSL_ERROR_SYSCALL:
        if (t->io_err) {
            *err = t->io_err;
            snprintf(t->err_text, sizeof t->err_text, "transport: %s", ax_strerror(*err));
        } else if (e) {
            *err = ax__from_queue(t, e);
        } else {
            *err = AX_ETLSTRUNC;
            snprintf(t->err_text, sizeof t->err_text,
                     t->hs_done ? "peer closed without close_notify"
                                : "peer closed the connection during the handshake");
        }
        return AX_READY;
    default:
        if (e) {
            *err = ax__from_queue(t, e);
        } else if (t->io_err) {
            *err = t->io_err;
        } else {
            *err = AX_ETLS;
            snprintf(t->err_text, sizeof t->err_text, "TLS error %d", kind);
        }
        return AX_READY;
    }
}
