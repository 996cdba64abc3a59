#!/bin/sh
# The codec must build for a Cortex-M4 without a C library beyond mem*/str*:
# compile every src/mqtt/*.c freestanding and list what the objects need.
# Usage: check_freestanding.sh SOURCE_DIR WORK_DIR
set -eu
src=$1
work=$2
cc=arm-none-eabi-gcc
nm=arm-none-eabi-nm
if ! command -v "$cc" >/dev/null 2>&1 || ! command -v "$nm" >/dev/null 2>&1; then
    echo "skip: $cc not installed (scripts/deps.sh test installs it)"
    exit 77
fi
rm -rf "$work"
mkdir -p "$work/obj"
for f in "$src"/src/mqtt/*.c; do
    "$cc" -mthumb -mcpu=cortex-m4 -Os -ffreestanding -std=c11 -Wall -Wextra -Werror \
        -I"$src/src" -c "$f" -o "$work/obj/$(basename "$f" .c).o"
done
# One relocatable object, so calls between codec files resolve.
arm-none-eabi-ld -r -o "$work/codec.o" "$work"/obj/*.o
"$nm" -u "$work/codec.o" | awk 'NF == 2 && $1 == "U" { print $2 }' | sort -u >"$work/undefined.txt"
echo "undefined symbols:"
sed 's/^/  /' "$work/undefined.txt"
bad=$(grep -Ev '^(mem|str)[a-z]*$' "$work/undefined.txt" || true)
if [ -n "$bad" ]; then
    echo "FAIL: the codec needs more than mem*/str*:"
    echo "$bad"
    exit 1
fi
size=$(arm-none-eabi-size "$work/codec.o" | awk 'NR == 2 { print $1 + $2 }')
echo "ok: Cortex-M4 -Os code+data: $size bytes"
