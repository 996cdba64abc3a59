/* Topic names, topic filters and matching one against the other. */
#include "internal.h"

bool mqtt_topic_name_valid(mqtt_bytes_t topic)
{
    if (topic.len == 0 || topic.len > 65535)
        return false;
    if (memchr(topic.data, '+', topic.len) || memchr(topic.data, '#', topic.len))
        return false;
    return mqtt_utf8_valid(topic.data, topic.len);
}

static const char share_prefix[] = "$share/";
#define SHARE_PREFIX_LEN (sizeof(share_prefix) - 1)

static bool is_shared(mqtt_bytes_t filter)
{
    return filter.len >= SHARE_PREFIX_LEN &&
           memcmp(filter.data, share_prefix, SHARE_PREFIX_LEN) == 0;
}

/* Wildcard placement only; UTF-8 is checked by the caller. */
static bool filter_levels_valid(const uint8_t *f, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (f[i] != '+' && f[i] != '#')
            continue;
        bool starts_level = i == 0 || f[i - 1] == '/';
        bool ends_level = i + 1 == len || f[i + 1] == '/';
        if (!starts_level || !ends_level)
            return false;
        if (f[i] == '#' && i + 1 != len)
            return false;
    }
    return true;
}

/* Splits "$share/<group>/<filter>"; false if the group is empty, holds a
 * wildcard, or no filter follows it. */
static bool split_shared(mqtt_bytes_t filter, mqtt_bytes_t *group, mqtt_bytes_t *rest)
{
    const uint8_t *g = filter.data + SHARE_PREFIX_LEN;
    size_t left = filter.len - SHARE_PREFIX_LEN;
    const uint8_t *slash = memchr(g, '/', left);
    if (!slash || slash == g)
        return false;
    group->data = g;
    group->len = (size_t)(slash - g);
    if (memchr(group->data, '+', group->len) || memchr(group->data, '#', group->len))
        return false;
    rest->data = slash + 1;
    rest->len = left - group->len - 1;
    return rest->len > 0;
}

bool mqtt_topic_filter_valid(mqtt_bytes_t filter)
{
    if (filter.len == 0 || filter.len > 65535)
        return false;
    if (!mqtt_utf8_valid(filter.data, filter.len))
        return false;
    if (is_shared(filter)) {
        mqtt_bytes_t group, rest;
        if (!split_shared(filter, &group, &rest))
            return false;
        return filter_levels_valid(rest.data, rest.len);
    }
    return filter_levels_valid(filter.data, filter.len);
}

/*
 * Level by level. '#' matches the rest including the parent level
 * ("a/#" matches "a"); '+' matches exactly one level, which may be empty.
 * A shared subscription's "$share/<group>/" prefix is skipped, so the
 * broker can match the stored filter as it came.
 */
bool mqtt_topic_matches(mqtt_bytes_t filter, mqtt_bytes_t topic)
{
    if (is_shared(filter)) {
        mqtt_bytes_t group;
        if (!split_shared(filter, &group, &filter))
            return false;
    }
    const uint8_t *f = filter.data, *t = topic.data;
    size_t fl = filter.len, tl = topic.len;
    if (fl == 0 || tl == 0)
        return false;
    if (t[0] == '$' && (f[0] == '+' || f[0] == '#'))
        return false;
    size_t fi = 0, ti = 0;
    bool topic_has_level = true;
    for (;;) {
        size_t fe = fi;
        while (fe < fl && f[fe] != '/')
            fe++;
        bool plus = fe - fi == 1 && f[fi] == '+';
        if (fe - fi == 1 && f[fi] == '#')
            return true;
        if (!topic_has_level)
            return false;
        size_t te = ti;
        while (te < tl && t[te] != '/')
            te++;
        if (!plus && (fe - fi != te - ti || memcmp(f + fi, t + ti, fe - fi) != 0))
            return false;
        if (fe == fl)
            return te == tl;
        fi = fe + 1;
        if (te < tl)
            ti = te + 1;
        else
            topic_has_level = false;
    }
}
