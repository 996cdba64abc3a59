/* Mount point arithmetic. See mount.h. */
#include "broker/mount.h"

#include <string.h>

size_t mount_size(size_t prefix_len, mqtt_bytes_t topic)
{
    size_t n = prefix_len + topic.len;
    return n > MOUNT_MAX_LEN ? 0 : n;
}

size_t mount_topic(const char *prefix, size_t prefix_len, mqtt_bytes_t topic, char *out)
{
    if (prefix_len)
        memcpy(out, prefix, prefix_len);
    if (topic.len)
        memcpy(out + prefix_len, topic.data, topic.len);
    return prefix_len + topic.len;
}

/* The length of "$share/<group>/" in front of filter, or 0 when the
 * filter is not a shared subscription. A shared filter without a second
 * '/' is left to the topic tree to refuse. */
static size_t share_head(mqtt_bytes_t filter)
{
    static const char share[] = "$share/";
    size_t n = sizeof(share) - 1;
    if (filter.len <= n || memcmp(filter.data, share, n) != 0)
        return 0;
    const void *slash = memchr(filter.data + n, '/', filter.len - n);
    if (!slash)
        return 0;
    return (size_t)((const uint8_t *)slash - filter.data) + 1;
}

size_t mount_filter(const char *prefix, size_t prefix_len, mqtt_bytes_t filter, char *out)
{
    size_t head = share_head(filter);
    memcpy(out, filter.data, head);
    if (prefix_len)
        memcpy(out + head, prefix, prefix_len);
    if (filter.len > head)
        memcpy(out + head + prefix_len, filter.data + head, filter.len - head);
    return filter.len + prefix_len;
}

bool mount_strip(const char *prefix, size_t prefix_len, const char *topic, size_t len,
                 mqtt_bytes_t *rest)
{
    if (len <= prefix_len || memcmp(topic, prefix, prefix_len) != 0)
        return false;
    rest->data = (const uint8_t *)topic + prefix_len;
    rest->len = len - prefix_len;
    return true;
}
