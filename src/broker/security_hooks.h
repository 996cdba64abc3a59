/*
 * Where the protocol layer asks the security snapshot (security.h): one
 * call per decision, each taking the client, so the handlers stay one line
 * per check. Every call runs on the client's worker.
 *
 * Reload: on SIGHUP sechook_reload() re-reads the configuration file, the
 * password and ACL files and the TLS files it names into a new snapshot;
 * if any of them is broken it logs why ("file:line: reason", or the file
 * and OpenSSL's reason) and keeps everything as it was. Otherwise the
 * snapshot goes to the server (server_reconfigure), which opens, closes
 * and updates listeners and hands each worker the snapshot together with
 * its listeners' new settings, at a safe point of its loop. A client
 * checks against its worker's snapshot, found by its connection's
 * listener (by identity, so a reordered file changes nothing): new logins
 * use the new passwords and listener settings, and every client's next
 * ACL check uses the new ACL, existing subscriptions included.
 */
#ifndef MIDGE_BROKER_SECURITY_HOOKS_H
#define MIDGE_BROKER_SECURITY_HOOKS_H

#include <stdbool.h>
#include <stddef.h>

#include "broker/config.h"
#include "broker/proto.h"
#include "mqtt/mqtt.h"

/* Loads password and ACL files of cfg into b (cfg must outlive b; path is
 * the file it came from, NULL without -c). 0, or -1 with "file:line:
 * reason" in err. */
int sechook_init(broker_t *b, const config_t *cfg, const char *path, char *err, size_t errlen);
void sechook_destroy(broker_t *b);

/* broker_proto_t.on_reload: ctx is the broker_t. */
void sechook_reload(void *ctx);

/*
 * CONNECT: the username/password (or certificate identity). On success
 * records the client's username and listener; false means refuse with "not
 * authorised" (CONNACK 0x87 in v5, 5 before).
 */
bool sechook_connect(client_t *c, const mqtt_connect_t *cn, const char *client_id);

/*
 * The configuration listener of the client's connection (max_qos,
 * mount_point, ...), from the snapshot its worker currently applies.
 * Valid during the current worker callback only: copy what is kept. NULL
 * when the connection has none any more (its listener was removed by a
 * reload and it is being closed, or it is gone): treat as refused.
 */
const config_listener_t *sechook_listener(client_t *c);

/* After sechook_connect: may the will be published (ACL write on its
 * topic)? If not, the connection is accepted and the will dropped, as
 * Mosquitto 2.0 does. */
bool sechook_will_allowed(client_t *c, const mqtt_connect_t *cn, const char *client_id);

/* allow_zero_length_clientid and auto_id_prefix of the client's listener
 * (they follow per_listener_settings). Valid before sechook_connect. */
bool sechook_allow_zero_length_clientid(client_t *c);
const char *sechook_auto_id_prefix(client_t *c);

/* PUBLISH from the client (ACL write). */
bool sechook_can_publish(client_t *c, const char *topic, size_t len);
/* SUBSCRIBE filter: false means SUBACK 0x87 (v5) / 0x80. */
bool sechook_can_subscribe(client_t *c, mqtt_bytes_t filter);
/* A message about to be sent to the client (ACL read). */
bool sechook_can_receive(client_t *c, const char *topic, size_t len);

/*
 * check_retain_source: may the retained message m, about to be sent to c
 * because c subscribed, still be published by whoever published it? True
 * when the option is off (in c's worker's configuration) or m is the
 * broker's own ($SYS, log lines). Otherwise (a client's PUBLISH or will) Mosquitto's check: the ACL
 * write rule for m's topic, for the publisher's client id and username, under the ACL of its
 * listener (found by port; with per_listener_settings a port no listener has any more denies) in
 * the current snapshot, so a reload that took the right away stops the message. The password file
 * is not consulted.
 */
bool sechook_retain_source_allowed(client_t *c, const msg_t *m);

/* Frees what the hooks recorded on the client. */
void sechook_client_free(client_t *c);

#endif
