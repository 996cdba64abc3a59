/*
 * Bridges: `connection` sections of mosquitto.conf (bridge_config.c), each
 * a libmidge client in its own thread connecting out to a remote broker.
 *
 *  - Outgoing (`out`/`both` topics): the bridge has a pseudo-session,
 *    outside the session table, subscribed in the topic tree to the local
 *    filters with No Local and Retain As Published. Routing hands its
 *    deliveries to bridge_deliver (session_t.sink) instead of a queue on a
 *    connection; that only appends to a bounded queue and wakes the bridge
 *    thread, so a worker never waits on the remote.
 *  - Incoming (`in`/`both`): the remote's messages are mapped and published
 *    here with deliver_publish from the bridge thread, the bridge's
 *    pseudo-session as publisher, so No Local keeps them from going back
 *    out over the same bridge.
 *  - Neither direction is checked against the local ACL (as Mosquitto's
 *    bridges are not): the configuration file is the authority.
 *
 * Life cycle (main.c): bridges_create before server_start (TLS files are
 * read while still root), bridges_start once the workers run, bridges_stop
 * after server_run returns, bridges_free after server_destroy. SIGHUP does
 * not change bridges.
 */
#ifndef MIDGE_BROKER_BRIDGE_H
#define MIDGE_BROKER_BRIDGE_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/config.h"

struct broker;
struct msg;

/* Sets up one bridge per cfg->bridges (cfg must outlive them). 0, or -1
 * after logging why (a TLS file that cannot be loaded). */
int bridges_create(struct broker *b, const config_t *cfg);
/* Subscribes the bridges locally and starts their threads. */
void bridges_start(struct broker *b);
/* Tells the remotes the bridges go down, disconnects and joins the
 * threads; no delivery reaches a bridge afterwards. */
void bridges_stop(struct broker *b);
void bridges_free(struct broker *b);

/* deliver_to_session's hook for a bridge's pseudo-session: queues m (a
 * new reference is taken) for the remote. Any thread; never blocks on
 * the network. False when dropped. */
bool bridge_deliver(void *sink, struct msg *m, uint8_t qos, bool retain);

#endif
