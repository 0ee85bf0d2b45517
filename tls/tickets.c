/* tls/tickets.c - the server's session-ticket keys and their rotation.
 *
 * Two keys: the current one mints tickets, the previous one still opens
 * the tickets it minted (and such a ticket is renewed under the current
 * key). A key mints for ticket_lifetime (default 24 h); then the next
 * handshake that mints or opens a ticket replaces it (and one that comes
 * two lifetimes after it was made replaces both keys), so a ticket is
 * honoured for at most two lifetimes. ax_tls_config_rotate_ticket_key
 * rotates at once. Keys are random, kept in the config (never written
 * out), and the lock guards a copy of at most one key per handshake.
 */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "axon/time.h"
#include "tls/tls_internal.h"

#define AX__TICKET_DEFAULT_LIFETIME_S (24 * 3600)

static int ax__key_new(ax__tls_ticket_key *k) {
    if (!RAND_bytes(k->name, sizeof k->name) || !RAND_bytes(k->aes, sizeof k->aes) ||
        !RAND_bytes(k->hmac, sizeof k->hmac))
        return AX_EIO;
    k->valid = true;
    return 0;
}

/* Under cfg->lock. */
static int ax__rotate_locked(ax_tls_config *cfg, ax_instant now) {
    ax__tls_ticket_key next;
    int err = ax__key_new(&next);
    if (err) return err;
    cfg->tickets[1] = cfg->tickets[0];
    cfg->tickets[0] = next;
    cfg->ticket_minted_at = now;
    return 0;
}

static int ax__ticket_cb(SSL *ssl, uint8_t *name, uint8_t *iv, EVP_CIPHER_CTX *ctx, HMAC_CTX *hctx,
                         int encrypt) {
    ax_tls *t = SSL_get_app_data(ssl);
    ax_tls_config *cfg = t->cfg;
    ax__tls_ticket_key k;
    int ret = 1;
    pthread_mutex_lock(&cfg->lock);
    ax_instant now = ax_now();
    uint64_t age = now - cfg->ticket_minted_at;
    int rotations = !cfg->tickets[0].valid || age >= 2 * cfg->ticket_lifetime_ns ? 2
                    : age >= cfg->ticket_lifetime_ns                             ? 1
                                                                                 : 0;
    for (int i = 0; i < rotations; i++) {
        if (ax__rotate_locked(cfg, now)) {
            pthread_mutex_unlock(&cfg->lock);
            return -1;
        }
    }
    if (encrypt) {
        k = cfg->tickets[0];
    } else if (cfg->tickets[0].valid && memcmp(name, cfg->tickets[0].name, 16) == 0) {
        k = cfg->tickets[0];
    } else if (cfg->tickets[1].valid && memcmp(name, cfg->tickets[1].name, 16) == 0) {
        k = cfg->tickets[1];
        ret = 2; /* renew under the current key */
    } else {
        ret = 0; /* unknown or retired key: a full handshake */
    }
    pthread_mutex_unlock(&cfg->lock);
    if (ret == 0) return 0;
    if (encrypt) {
        if (!RAND_bytes(iv, 16)) return -1;
        memcpy(name, k.name, 16);
        if (!EVP_EncryptInit_ex(ctx, EVP_aes_128_cbc(), NULL, k.aes, iv)) return -1;
    } else if (!EVP_DecryptInit_ex(ctx, EVP_aes_128_cbc(), NULL, k.aes, iv)) {
        return -1;
    }
    if (!HMAC_Init_ex(hctx, k.hmac, sizeof k.hmac, EVP_sha256(), NULL)) return -1;
    return ret;
}

void ax__tls_tickets_init(ax_tls_config *cfg, unsigned lifetime_s) {
    cfg->ticket_lifetime_ns =
        (uint64_t)(lifetime_s ? lifetime_s : AX__TICKET_DEFAULT_LIFETIME_S) * 1000000000ull;
    SSL_CTX_set_tlsext_ticket_key_cb(cfg->ctx, ax__ticket_cb);
}

int ax_tls_config_rotate_ticket_key(ax_tls_config *cfg) {
    if (!cfg || !cfg->server) return AX_EINVAL;
    pthread_mutex_lock(&cfg->lock);
    int err = ax__rotate_locked(cfg, ax_now());
    pthread_mutex_unlock(&cfg->lock);
    return err;
}
