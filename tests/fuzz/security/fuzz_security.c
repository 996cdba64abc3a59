/*
 * Two targets from one file (FUZZ_PASSWD selects):
 *   fuzz_security_acl: "<acl file>\0<client id>\0<username>\0<topic>" - the
 *     ACL parser on any bytes, then acl_check (read, write) and the
 *     SUBSCRIBE filter check with whatever a client can send.
 *   fuzz_security_passwd: "<password file>\0<user>\0<password>".
 */
#include "broker/acl.h"
#include "broker/password.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Splits at NUL bytes into up to n NUL-terminated parts of one copy. */
static size_t split(char *copy, size_t size, char **parts, size_t n)
{
    size_t count = 0;
    parts[count++] = copy;
    for (size_t i = 0; i < size && count < n; i++) {
        if (copy[i] == '\0') {
            parts[count++] = copy + i + 1;
        }
    }
    return count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1);
    if (copy == NULL) {
        return 0;
    }
    memcpy(copy, data, size);
    copy[size] = '\0';
    char *parts[4] = {0};
    size_t n = split(copy, size, parts, 4);
    size_t file_len = strlen(parts[0]);
    FILE *f = fmemopen(parts[0], file_len > 0 ? file_len : 1, "r");
    if (f == NULL) {
        free(copy);
        return 0;
    }
    char err[256];
#ifdef FUZZ_PASSWD
    password_db_t *db = NULL;
    /* Large iteration counts are valid but slow: keep runs fast. */
    bool slow = false;
    for (const char *s = strstr(parts[0], "$7$"); s != NULL && !slow; s = strstr(s + 1, "$7$")) {
        slow = strspn(s + 3, "0123456789") > 4;
    }
    if (!slow && password_db_load_stream(f, "fuzz", &db, err, sizeof(err)) == 0) {
        const char *user = n > 1 ? parts[1] : "u";
        const char *pass = n > 2 ? parts[2] : "";
        (void)password_check(db, user, strlen(user), (const uint8_t *)pass, strlen(pass));
        password_db_unref(db);
    }
    (void)password_hash_well_formed(parts[0]);
#else
    acl_t *acl = NULL;
    if (acl_load_stream(f, "fuzz", &acl, err, sizeof(err)) == 0) {
        const char *cid = n > 1 ? parts[1] : "c";
        const char *user = n > 2 && parts[2][0] != '\0' ? parts[2] : NULL;
        const char *topic = n > 3 ? parts[3] : "a/b";
        size_t tlen = strlen(topic);
        (void)acl_check(acl, cid, user, topic, tlen, ACL_READ);
        (void)acl_check(acl, cid, user, topic, tlen, ACL_WRITE);
        (void)acl_check_subscribe(acl, cid, user, topic, tlen);
        (void)acl_filters_overlap(topic, tlen, cid, strlen(cid));
        (void)acl_filter_covers(topic, tlen, cid, strlen(cid));
        acl_unref(acl);
    }
#endif
    fclose(f);
    free(copy);
    return 0;
}
