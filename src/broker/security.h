/*
 * The broker's authentication and authorisation state, built from a
 * config_t: every password_file and acl_file it names, loaded, plus the
 * allow_anonymous / allow_zero_length_clientid / auto_id_prefix settings of
 * each listener (global, or per listener with per_listener_settings).
 *
 * One security_t is a consistent snapshot: immutable and reference
 * counted. At start the broker calls security_load(); on SIGHUP it loads a
 * new one from the new config and, only if that succeeded, swaps the
 * pointer (connected clients keep the snapshot they hold until they drop
 * it). A connection refers to its listener by index into cfg->listeners.
 *
 * Rules (Mosquitto 2.0, checked against it):
 *   - no password_file: allow_anonymous true lets everyone in (a username
 *     is then just a name); false refuses everyone;
 *   - password_file: a client without a username gets in only with
 *     allow_anonymous true; with a username it needs that user's password;
 *   - listener with use_identity_as_username / use_subject_as_username: the
 *     certificate identity is the username and no password is checked; no
 *     verified certificate identity means refused.
 */
#ifndef MIDGE_BROKER_SECURITY_H
#define MIDGE_BROKER_SECURITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/acl.h"
#include "broker/config.h"
#include "broker/password.h"

typedef struct security security_t;

/*
 * Loads every password and ACL file of cfg. Returns NULL with "file:line:
 * reason" in err when one is missing or malformed. cfg may be freed after
 * this returns: what the snapshot needs is copied.
 */
security_t *security_load(const config_t *cfg, char *err, size_t errlen);

security_t *security_ref(security_t *s);
/* Listeners the snapshot was built for. */
size_t security_listener_count(const security_t *s);
void security_unref(security_t *s);

/* What a CONNECT brings. Strings are (pointer, length), not NUL-terminated. */
typedef struct {
    const char *username; /* NULL: no username in CONNECT */
    size_t username_len;
    const uint8_t *password; /* NULL: no password in CONNECT */
    size_t password_len;
    /* The verified client certificate's CN (use_identity_as_username) or
     * subject (use_subject_as_username), NUL-terminated; NULL without one. */
    const char *cert_identity;
} security_creds_t;

/*
 * May this client connect on listener `listener_index`? True or false; the
 * caller answers CONNACK 0x05 (3.1.1) / 0x86 or 0x87 (v5) on false. An
 * index out of range is refused.
 */
bool security_authenticate(const security_t *s, size_t listener_index,
                           const security_creds_t *creds);

/* The ACL for clients of this listener; NULL means no acl_file (allow all
 * but $SYS writes: pass it to acl_check as is). An index out of range gets
 * acl_deny_all(): fail closed. */
const acl_t *security_acl(const security_t *s, size_t listener_index);

/* True when the listener takes the username from the client certificate. */
bool security_identity_is_username(const security_t *s, size_t listener_index);

/* allow_zero_length_clientid and auto_id_prefix for this listener. */
bool security_allow_zero_length_clientid(const security_t *s, size_t listener_index);
const char *security_auto_id_prefix(const security_t *s, size_t listener_index);

#endif
