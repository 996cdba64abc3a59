# Cross build for 64-bit ARM Linux (Raspberry Pi 3/4/5 with a 64-bit OS,
# arm64 VPS) with Debian's cross compiler and multiarch libraries:
#   dpkg --add-architecture arm64 && apt-get update
#   apt-get install gcc-aarch64-linux-gnu libssl-dev:arm64 libsqlite3-dev:arm64
# (scripts/deps.sh arm64 does this). Use:
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64.cmake
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(MIDGE_CROSS_TRIPLE aarch64-linux-gnu)
set(CMAKE_C_COMPILER ${MIDGE_CROSS_TRIPLE}-gcc)
set(CMAKE_AR ${MIDGE_CROSS_TRIPLE}-ar CACHE FILEPATH "")
set(CMAKE_RANLIB ${MIDGE_CROSS_TRIPLE}-ranlib CACHE FILEPATH "")
set(CMAKE_STRIP ${MIDGE_CROSS_TRIPLE}-strip CACHE FILEPATH "")

# Debian puts the arm64 C library under /usr/aarch64-linux-gnu and the
# multiarch packages (libssl-dev:arm64, ...) under the triple's
# subdirectories of /usr/lib and /usr/include. Searching "/usr" as a root
# lets find_package see those, because CMAKE_LIBRARY_ARCHITECTURE (set from
# the compiler) adds the triple directory to every library search, while
# the host's own x86_64 directories are never searched.
set(CMAKE_FIND_ROOT_PATH /usr/${MIDGE_CROSS_TRIPLE} /usr)
set(CMAKE_LIBRARY_ARCHITECTURE ${MIDGE_CROSS_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)


# pkg-config must only ever report arm64 packages.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/${MIDGE_CROSS_TRIPLE}/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")

# The binaries run under qemu-user on an x86 host for the smoke test:
#   qemu-aarch64 -L /usr/aarch64-linux-gnu build-arm64/midge
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64;-L;/usr/${MIDGE_CROSS_TRIPLE})
