#include "broker/privdrop.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "broker/log.h"

int privdrop_to_user(const char *user)
{
    if (geteuid() != 0)
        return 0;
    if (!user)
        user = "mosquitto";
    if (strcmp(user, "root") == 0)
        return 0;
    errno = 0;
    struct passwd *pw = getpwnam(user);
    if (!pw && strcmp(user, "mosquitto") == 0) {
        /* The packaged default names a user that a hand-built install may
         * lack; Mosquitto falls back to nobody rather than stay root. */
        mlog(MLOG_WARNING, "Warning: user mosquitto does not exist, using nobody.");
        user = "nobody";
        errno = 0;
        pw = getpwnam(user);
    }
    if (!pw) {
        mlog(MLOG_ERROR, "Error: invalid user '%s'%s%s.", user, errno ? ": " : "",
             errno ? strerror(errno) : "");
        return -1;
    }
    uid_t uid = pw->pw_uid;
    gid_t gid = pw->pw_gid;
    /* Groups first: once the uid is gone, the right to change them is too.
     * initgroups replaces root's supplementary groups, which would
     * otherwise stay and keep root's group access. */
    if (initgroups(user, gid) != 0) {
        mlog(MLOG_ERROR, "Error: cannot set the groups of user '%s': %s.", user, strerror(errno));
        return -1;
    }
    if (setgid(gid) != 0) {
        mlog(MLOG_ERROR, "Error: cannot change to group %ld: %s.", (long)gid, strerror(errno));
        return -1;
    }
    if (setuid(uid) != 0) {
        mlog(MLOG_ERROR, "Error: cannot change to user '%s': %s.", user, strerror(errno));
        return -1;
    }
    /* setuid from root also sets the saved uid, so root cannot come back;
     * check that it really cannot rather than trust it. */
    if (uid != 0 && (setuid(0) == 0 || geteuid() == 0)) {
        mlog(MLOG_ERROR, "Error: root privileges could not be dropped.");
        return -1;
    }
    mlog(MLOG_NOTICE, "Running as user %s (uid %ld, gid %ld).", user, (long)uid, (long)gid);
    return 0;
}
