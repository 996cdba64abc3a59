/* Authentication/authorisation snapshot built from a config. See security.h. */
#include "broker/security.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    bool allow_anonymous;
    bool allow_zero_length_clientid;
    char *auto_id_prefix;
    password_db_t *passwords; /* NULL: no password_file */
    acl_t *acl;               /* NULL: no acl_file */
} security__scope_t;

typedef struct {
    size_t scope;
    bool identity_is_username;
} security__listener_t;

struct security {
    atomic_int refs;
    security__scope_t *scopes;
    size_t scope_count;
    security__listener_t *listeners;
    size_t listener_count;
};

static void security__free(security_t *s)
{
    if (s == NULL) {
        return;
    }
    for (size_t i = 0; i < s->scope_count; i++) {
        free(s->scopes[i].auto_id_prefix);
        password_db_unref(s->scopes[i].passwords);
        acl_unref(s->scopes[i].acl);
    }
    free(s->scopes);
    free(s->listeners);
    free(s);
}

static int security__scope_load(security__scope_t *sc, const config_security_t *cs, char *err,
                                size_t errlen)
{
    sc->allow_anonymous = cs->allow_anonymous == 1;
    sc->allow_zero_length_clientid = cs->allow_zero_length_clientid;
    sc->auto_id_prefix = strdup(cs->auto_id_prefix != NULL ? cs->auto_id_prefix : "auto-");
    if (sc->auto_id_prefix == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (cs->password_file != NULL &&
        password_db_load(cs->password_file, &sc->passwords, err, errlen) != 0) {
        return -1;
    }
    if (cs->acl_file != NULL && acl_load(cs->acl_file, &sc->acl, err, errlen) != 0) {
        return -1;
    }
    return 0;
}

security_t *security_load(const config_t *cfg, char *err, size_t errlen)
{
    security_t *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    atomic_init(&s->refs, 1);
    size_t nl = cfg->listener_count;
    s->scope_count = cfg->per_listener_settings ? nl : 1;
    s->scopes = calloc(s->scope_count ? s->scope_count : 1, sizeof(*s->scopes));
    s->listeners = calloc(nl ? nl : 1, sizeof(*s->listeners));
    s->listener_count = nl;
    if (s->scopes == NULL || s->listeners == NULL) {
        snprintf(err, errlen, "out of memory");
        security__free(s);
        return NULL;
    }
    for (size_t i = 0; i < s->scope_count; i++) {
        const config_security_t *cs =
            cfg->per_listener_settings ? &cfg->listeners[i].security : &cfg->security;
        if (security__scope_load(&s->scopes[i], cs, err, errlen) != 0) {
            security__free(s);
            return NULL;
        }
    }
    for (size_t i = 0; i < nl; i++) {
        s->listeners[i].scope = cfg->per_listener_settings ? i : 0;
        s->listeners[i].identity_is_username =
            cfg->listeners[i].use_identity_as_username || cfg->listeners[i].use_subject_as_username;
    }
    return s;
}

security_t *security_ref(security_t *s)
{
    if (s != NULL) {
        atomic_fetch_add(&s->refs, 1);
    }
    return s;
}

void security_unref(security_t *s)
{
    if (s != NULL && atomic_fetch_sub(&s->refs, 1) == 1) {
        security__free(s);
    }
}

static const security__scope_t *security__scope(const security_t *s, size_t listener_index)
{
    if (s == NULL || listener_index >= s->listener_count) {
        return NULL;
    }
    return &s->scopes[s->listeners[listener_index].scope];
}

size_t security_listener_count(const security_t *s)
{
    return s != NULL ? s->listener_count : 0;
}

bool security_authenticate(const security_t *s, size_t listener_index,
                           const security_creds_t *creds)
{
    const security__scope_t *sc = security__scope(s, listener_index);
    if (sc == NULL || creds == NULL) {
        return false;
    }
    if (s->listeners[listener_index].identity_is_username) {
        return creds->cert_identity != NULL && creds->cert_identity[0] != '\0';
    }
    if (sc->passwords == NULL) {
        return sc->allow_anonymous;
    }
    if (creds->username == NULL) {
        return sc->allow_anonymous;
    }
    if (creds->password == NULL) {
        /* Still spend a hash, so a missing password is not faster. */
        (void)password_check(sc->passwords, NULL, 0, (const uint8_t *)"", 0);
        return false;
    }
    return password_check(sc->passwords, creds->username, creds->username_len, creds->password,
                          creds->password_len);
}

const acl_t *security_acl(const security_t *s, size_t listener_index)
{
    const security__scope_t *sc = security__scope(s, listener_index);
    if (sc == NULL) {
        return acl_deny_all(); /* an unknown listener gets nothing */
    }
    return sc->acl;
}

bool security_identity_is_username(const security_t *s, size_t listener_index)
{
    return s != NULL && listener_index < s->listener_count &&
           s->listeners[listener_index].identity_is_username;
}

bool security_allow_zero_length_clientid(const security_t *s, size_t listener_index)
{
    const security__scope_t *sc = security__scope(s, listener_index);
    return sc != NULL && sc->allow_zero_length_clientid;
}

const char *security_auto_id_prefix(const security_t *s, size_t listener_index)
{
    const security__scope_t *sc = security__scope(s, listener_index);
    return sc != NULL ? sc->auto_id_prefix : "auto-";
}
