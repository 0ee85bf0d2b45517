/* http/services.c - the server's service registry: names mapped to shared
 * objects, registered before serving, read-only while serving, destroyed
 * with the server's record. */
#include <stdlib.h>
#include <string.h>

#include "executor/array.h"
#include "http/internal.h"

typedef struct ax__service {
    char name[64];
    void *ptr;
    void (*dtor)(void *ptr);
} ax__service;

struct ax__http_services {
    ax__service *v;
    size_t n, cap;
};

int ax_http_server_provide(ax_http_server *srv, const char *name, void *ptr,
                           void (*dtor)(void *ptr)) {
    if (!srv || !name || !*name || strlen(name) >= sizeof((ax__service *)0)->name) return AX_EINVAL;
    if (srv->rt) return AX_EBUSY;
    if (ax_http_server_service(srv, name)) return AX_EEXIST;
    ax__http_services *s = srv->services;
    if (!s) {
        if (!(s = calloc(1, sizeof *s))) return AX_ENOMEM;
        srv->services = s;
    }
    if (ax__grow((void **)&s->v, &s->cap, s->n, sizeof *s->v)) return AX_ENOMEM;
    ax__service *e = &s->v[s->n++];
    strcpy(e->name, name);
    e->ptr = ptr;
    e->dtor = dtor;
    return 0;
}

void *ax_http_server_service(const ax_http_server *srv, const char *name) {
    const ax__http_services *s = srv->services;
    if (!s) return NULL;
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i].name, name) == 0) return s->v[i].ptr;
    return NULL;
}

void *ax_http_req_service(const ax_http_req *req, const char *name) {
    return ax_http_server_service(req->io->srv, name);
}

void ax__http_services_free(ax__http_services *s) {
    if (!s) return;
    for (size_t i = s->n; i-- > 0;)
        if (s->v[i].dtor) s->v[i].dtor(s->v[i].ptr);
    free(s->v);
    free(s);
}
