/* -F formats, %j/%J and --json on arbitrary format strings and payloads:
 * the input is "format NUL payload"; the first byte picks the options. */
#include <stdlib.h>
#include <string.h>

#include "tool_cfg.h"
#include "tool_out.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    data++;
    size--;
    const uint8_t *nul = memchr(data, 0, size);
    size_t flen = nul ? (size_t)(nul - data) : size;
    char *fmt = malloc(flen + 1);
    if (!fmt)
        return 0;
    memcpy(fmt, data, flen);
    fmt[flen] = '\0';
    const uint8_t *payload = nul ? nul + 1 : data + size;
    size_t plen = (size_t)(data + size - payload);

    mqtt_user_prop_t user = {{payload, plen / 2}, {payload + plen / 2, plen - plen / 2}};
    uint32_t sub_ids[2] = {1, 268435455};
    mqtt_props_t props;
    memset(&props, 0, sizeof props);
    props.present = ~0ull;
    props.content_type = (mqtt_bytes_t){payload, plen};
    props.correlation_data = (mqtt_bytes_t){payload, plen};
    props.response_topic = (mqtt_bytes_t){payload, plen / 3};
    props.user = &user;
    props.user_count = 1;
    props.sub_ids = sub_ids;
    props.sub_id_count = 2;

    tool_out_opts_t o = {
        .format = NULL,
        .verbose = mode & 1,
        .eol = mode & 2,
        .pretty = mode & 4,
        .json = (mode & 0x18) == 0x08,
    };
    char err[256];
    if ((mode & 0x18) == 0x10 && tool_format_check(fmt, err, sizeof err) == 0)
        o.format = fmt;
    tool_msg_t m = {(const char *)payload,         plen, payload, plen, mode >> 6, mode & 0x20, 7,
                    (mode & 0x20) ? &props : NULL, NULL, 0};
    struct timespec now = {1700000000, 123456789};
    tool_buf_t out = {0}, e = {0};
    tool_render(&out, &e, &o, &m, &now);
    (void)tool_json_valid(payload, plen);
    tool_buf_free(&out);
    tool_buf_free(&e);
    free(fmt);
    return 0;
}
