#!/bin/sh
# midge-lite's flash footprint on a Cortex-M4: links a small firmware that
# calls every midge-lite function, with Debian's gcc-arm-none-eabi
# (-mthumb -mcpu=cortex-m4 -Os, -ffunction-sections + --gc-sections), and
# sums the sections kept from midge-lite and the codec objects it pulls in,
# from the linker map. Both builds (3.1.1, 5.0) and the context size.
# Usage: scripts/size.sh [OUT_DIR]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/build/size}
cc=arm-none-eabi-gcc
if ! command -v $cc >/dev/null 2>&1; then
    echo "size: $cc missing (apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi)" >&2
    exit 1
fi
mkdir -p "$out"
flags="-mthumb -mcpu=cortex-m4 -Os -ffunction-sections -fdata-sections -std=c11 -I$root/src"

cat >"$out/firmware.c" <<'FW'
/* Every midge-lite call, as a firmware would make them. */
#include "lite/midge_lite.h"

static uint8_t tx[512], rx[512];
static volatile uint32_t ticks;
static int t_open(void *io) { (void)io; return 0; }
static void t_close(void *io) { (void)io; }
static int t_send(void *io, const uint8_t *b, size_t n, uint32_t t) { (void)io; (void)b; (void)t; return (int)n; }
static int t_recv(void *io, uint8_t *b, size_t n, uint32_t t) { (void)io; (void)t; b[0] = 0; return n ? 1 : 0; }
static void t_sleep(void *io, uint32_t ms) { (void)io; ticks += ms; }
static uint32_t t_clock(void *io) { (void)io; return ticks; }
static void on_msg(void *u, const char *t, size_t tl, const uint8_t *m, size_t ml) { (void)u; (void)t; (void)tl; (void)m; (void)ml; }
static const midge_lite_transport_t tr = {t_open, t_close, t_send, t_recv, t_sleep, 0};
static midge_lite_t client;
const unsigned midge_lite_context_size = sizeof(midge_lite_t);

int main(void)
{
    midge_lite_config_t cfg = {0};
    cfg.transport = &tr;
    cfg.clock = t_clock;
    cfg.tx_buf = tx;
    cfg.rx_buf = rx;
    cfg.tx_cap = sizeof(tx);
    cfg.rx_cap = sizeof(rx);
    cfg.client_id = "esp32";
    cfg.keepalive = 30;
    midge_lite_init(&client, &cfg);
    midge_lite_set_callback(&client, on_msg, 0);
    midge_lite_set_last_will(&client, "lab/status", (const uint8_t *)"offline", 7, 1, 1);
    if (midge_lite_connect(&client, 1) < 0)
        midge_lite_reconnect(&client, 5, 1000);
    midge_lite_subscribe(&client, "lab/led", 1);
    for (;;) {
        midge_lite_publish(&client, "lab/dht", (const uint8_t *)"{}", 2, 0, 0);
        midge_lite_check_msg(&client);
        if (ticks & 1)
            midge_lite_wait_msg(&client);
        if (ticks & 2)
            midge_lite_ping(&client);
        if (!midge_lite_is_connected(&client))
            break;
    }
    return midge_lite_disconnect(&client);
}
FW

# sum SECTION-PREFIX FILE-PATTERN MAP: bytes of kept sections from files
sum() {
    awk -v pre="$1" -v pat="$2" '
        function hex(h,   i, v) {
            v = 0; h = tolower(h); sub(/^0x/, "", h)
            for (i = 1; i <= length(h); i++) v = v * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1
            return v
        }
        /^Linker script and memory map/ { on = 1; next }
        !on { next }
        # a long section name sits alone on its line; its numbers follow
        $0 ~ "^ \\." pre "[^ ]*$" { held = 1; next }
        held { held = 0; if ($3 ~ pat) s += hex($2); next }
        $0 ~ "^ \\." pre "[^ ]* +0x" { if ($4 ~ pat) s += hex($3) }
        END { print s + 0 }' "$3"
}

printf '%-22s %9s %9s %9s %9s %12s\n' build "lite .text" "codec .text" ".text" "target" "ctx (bytes)"
status=0
for v in 0 1; do
    name=$([ $v = 1 ] && echo "MQTT 5.0" || echo "MQTT 3.1.1")
    target=$([ $v = 1 ] && echo 12288 || echo 5632)
    d="$out/v$v"
    mkdir -p "$d"
    objs=""
    for src in "$root"/src/lite/midge_lite.c "$root"/src/mqtt/*.c "$out/firmware.c"; do
        o="$d/$(basename "$src" .c).o"
        $cc $flags -DMIDGE_LITE_V5=$v -c "$src" -o "$o"
        objs="$objs $o"
    done
    $cc -mthumb -mcpu=cortex-m4 --specs=nano.specs --specs=nosys.specs -Wl,--gc-sections \
        -Wl,-Map="$d/firmware.map" $objs -o "$d/firmware.elf" 2>"$d/link.log"
    lite=$(sum text 'midge_lite\.o' "$d/firmware.map")
    codec=$(sum text '(primitives|topic|decode|encode|props|errors|reasons)\.o' "$d/firmware.map")
    total=$((lite + codec))
    ctx=$(arm-none-eabi-objdump -s -j .rodata.midge_lite_context_size "$d/firmware.o" |
        awk '/^ 0000/ { b = $2; print substr(b,7,2) substr(b,5,2) substr(b,3,2) substr(b,1,2) }')
    ctx=$((0x$ctx))
    ok=$([ "$total" -le "$target" ] && [ "$ctx" -le 128 ] && echo ok || echo OVER)
    [ "$ok" = ok ] || status=1
    printf '%-22s %9d %9d %9d %9d %12s  %s\n' "$name" "$lite" "$codec" "$total" "$target" "$ctx/128" "$ok"
    ro=$(sum rodata '(midge_lite|primitives|topic|decode|encode|props|errors|reasons)\.o' "$d/firmware.map")
    echo "    (+ $ro bytes .rodata from the same objects)"
done
echo "cc: $($cc --version | head -1); flags: -mthumb -mcpu=cortex-m4 -Os, gc-sections"
echo "reference .text: MQTT-C 5.5 KB, coreMQTT 6.9 KB, wolfMQTT 15.3 KB, coreMQTT v5 19.4 KB"
exit $status
