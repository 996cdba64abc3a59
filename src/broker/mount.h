/*
 * Listener mount points (`mount_point PREFIX`), as Mosquitto applies them:
 * the prefix is put in front of every topic and filter a client of that
 * listener sends, and taken off every topic it receives. A shared
 * subscription keeps its `$share/<group>/` in front and the prefix goes on
 * the filter part (Mosquitto 2.0 prefixes the whole `$share/...` string,
 * which turns it into an ordinary filter that shares nothing).
 *
 * Pure functions on caller buffers: no allocation, no I/O.
 */
#ifndef MIDGE_BROKER_MOUNT_H
#define MIDGE_BROKER_MOUNT_H

#include <stdbool.h>
#include <stddef.h>

#include "mqtt/mqtt.h"

/* A mounted topic or filter never exceeds what MQTT can carry. */
#define MOUNT_MAX_LEN 65535u

/* The length of prefix + topic (or filter), or 0 when it would exceed
 * MOUNT_MAX_LEN. */
size_t mount_size(size_t prefix_len, mqtt_bytes_t topic);

/* Writes prefix + topic into out (at least mount_size() bytes). Returns
 * the length written. */
size_t mount_topic(const char *prefix, size_t prefix_len, mqtt_bytes_t topic, char *out);

/* Writes the mounted form of a subscription filter into out (at least
 * mount_size() bytes): "$share/<group>/<f>" becomes
 * "$share/<group>/<prefix><f>", anything else "<prefix><filter>". */
size_t mount_filter(const char *prefix, size_t prefix_len, mqtt_bytes_t filter, char *out);

/* The part of topic a client under prefix sees: true and *rest set when
 * topic starts with prefix and goes on after it; false when the topic is
 * outside the mount point (the client must not get it). */
bool mount_strip(const char *prefix, size_t prefix_len, const char *topic, size_t len,
                 mqtt_bytes_t *rest);

#endif
