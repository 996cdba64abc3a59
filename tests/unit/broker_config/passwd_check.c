/* passwd_check FILE USER PASSWORD: exit 0 when the password file loads and
 * the password is right, 1 when wrong, 2 when the file is refused (the
 * reason on stderr). Lets the integration tests run midge's password
 * module on files written by mosquitto_passwd. */
#include "broker/password.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: passwd_check FILE USER PASSWORD\n");
        return 2;
    }
    char err[512];
    password_db_t *db = NULL;
    if (password_db_load(argv[1], &db, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    bool ok = password_check(db, argv[2], strlen(argv[2]), (const unsigned char *)argv[3],
                             strlen(argv[3]));
    password_db_unref(db);
    return ok ? 0 : 1;
}
