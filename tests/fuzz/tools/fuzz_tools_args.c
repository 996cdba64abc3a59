/* Option parsing of the three tools on arbitrary argument vectors: the
 * input is the arguments separated by NUL bytes; the first byte picks the
 * tool. Parsing must end with a result and a message, never a crash. */
#include <stdlib.h>
#include <string.h>

#include "tool_cfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096)
        return 0;
    tool_kind_t kind = data[0] % 3 == 0 ? TOOL_PUB : data[0] % 3 == 1 ? TOOL_SUB : TOOL_RR;
    char *buf = malloc(size);
    if (!buf)
        return 0;
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    char *argv[130];
    int argc = 0;
    argv[argc++] = "tool";
    for (size_t i = 0; i < size - 1 && argc < 128;) {
        argv[argc++] = buf + i;
        i += strlen(buf + i) + 1;
    }
    argv[argc] = NULL;
    tool_cfg_t cfg;
    int rc = tool_cfg_parse(&cfg, kind, argc, argv);
    if (rc == 0) {
        (void)tool_cfg_port(&cfg);
        (void)tool_cfg_tls(&cfg);
    } else if (rc == TOOL_EXIT_USAGE && cfg.err[0] == '\0') {
        abort(); /* an error must always say why */
    }
    tool_cfg_free(&cfg);
    free(buf);
    return 0;
}
