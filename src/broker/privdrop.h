/*
 * The `user` directive: a broker started as root gives up root once its
 * privileged work is done (ports below 1024 bound, certificates, password
 * and ACL files read), as Mosquitto 2.0 does.
 */
#ifndef MIDGE_BROKER_PRIVDROP_H
#define MIDGE_BROKER_PRIVDROP_H

/*
 * Not root, or user "root": nothing. Otherwise switches to `user` (NULL
 * means "mosquitto") and its primary group, with its supplementary groups.
 * When the user is "mosquitto" and does not exist, "nobody" is used
 * instead; any other missing user, or a failing call, is an error: the
 * caller must stop, never run on as root by accident. Logs the outcome.
 * Returns 0 or -1.
 */
int privdrop_to_user(const char *user);

#endif
