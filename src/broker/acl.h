/*
 * Mosquitto ACL files (acl_file):
 *
 *   # comment
 *   topic [read|write|readwrite|deny] <topic>    anonymous clients, until
 *   user <username>                               the first `user` line;
 *   topic [read|write|readwrite|deny] <topic>    then that user's rules
 *   pattern [read|write|readwrite|deny] <topic>  every client; %c = client
 *                                                id, %u = username
 *
 * Without an access word the rule grants readwrite. The topic is the rest
 * of the line (it may hold spaces when the access word is given) and must
 * be a valid topic filter. Any error refuses the file: "file:line: reason".
 *
 * Decision for one topic, as Mosquitto 2.0 decides it:
 *   1. A write to $SYS/... is always denied (with or without an ACL file).
 *   2. No ACL file (acl == NULL): allowed.
 *   3. The client's own rules (its `user` section; the anonymous section
 *      when username is NULL): a matching deny rule denies; otherwise a
 *      matching rule granting the access allows.
 *   4. Patterns, after substituting %c and %u: a matching deny pattern
 *      denies; a matching pattern granting the access allows. Patterns with
 *      %u never apply to clients without a username. When patterns exist, a
 *      client whose client id or username contains '+' or '#' is denied (as
 *      Mosquitto does), and - beyond Mosquitto - one whose substituted
 *      client id or username contains '/', which would otherwise reach into
 *      another client's subtree ("pattern readwrite c/%c/#" and client id
 *      "victim/x").
 *   5. Otherwise denied.
 * A topic starting with '$' is only matched by rules starting with '$', so
 * "topic #" does not reach $SYS.
 *
 * A loaded acl_t is immutable and reference counted; reload by loading a
 * new one and swapping the pointer.
 */
#ifndef MIDGE_BROKER_ACL_H
#define MIDGE_BROKER_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct acl acl_t;

enum {
    ACL_READ = 1,     /* a message on this topic may be delivered to the client */
    ACL_WRITE = 2,    /* the client may publish (or set a will) on this topic */
    ACL_SUBSCRIBE = 4 /* the client may subscribe to this filter: see below */
};

/* Loads an ACL file (reference count 1). 0, or -1 with the reason in err. */
int acl_load(const char *path, acl_t **out, char *err, size_t errlen);

/* The same from an open stream; `path` only names it in messages. */
int acl_load_stream(FILE *f, const char *path, acl_t **out, char *err, size_t errlen);

/* An ACL without rules (denies everything), for fail-closed defaults. */
const acl_t *acl_deny_all(void);

acl_t *acl_ref(acl_t *acl);
void acl_unref(acl_t *acl);

/*
 * May this client do `access` (ACL_READ, ACL_WRITE or ACL_SUBSCRIBE; several
 * bits: all of them) on topic[0..topic_len)? client_id must not be NULL;
 * username is NULL for anonymous clients. For ACL_SUBSCRIBE the topic is a
 * filter and acl_check_subscribe() decides.
 */
bool acl_check(const acl_t *acl, const char *client_id, const char *username, const char *topic,
               size_t topic_len, int access);

/*
 * Can a subscription to `filter` ever deliver anything to this client? The
 * broker refuses the SUBSCRIBE for this filter (SUBACK 0x80 in 3.1.1, 0x87
 * in v5) when not; when it can, the subscription is granted and every
 * message is still checked with ACL_READ at delivery, so a filter that is
 * only partly readable delivers only the readable topics.
 *
 * Refused exactly when no topic under the filter is readable by the rules
 * above: a deny rule covers the whole filter, or no rule granting read
 * overlaps it. "$share/<group>/" is stripped first. A refusal is never
 * wrong; a grant may still deliver nothing when several partial deny rules
 * together cover the filter.
 */
bool acl_check_subscribe(const acl_t *acl, const char *client_id, const char *username,
                         const char *filter, size_t filter_len);

/* Exposed for tests: filter relations used by acl_check_subscribe. */
bool acl_filters_overlap(const char *a, size_t alen, const char *b, size_t blen);
bool acl_filter_covers(const char *outer, size_t olen, const char *inner, size_t ilen);

#endif
