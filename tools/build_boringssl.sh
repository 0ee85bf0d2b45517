#!/bin/sh
# Build BoringSSL's static libssl.a / libcrypto.a (and the bssl tool) from
# Debian's own source package, for `make STATIC_BORINGSSL=1`.
#
# Usage: tools/build_boringssl.sh [OUT]      (OUT defaults to build/boringssl)
#
# The source comes from `apt-get source` run through a private sources list
# (OUT/sources.list, one deb-src line for the suite the system's
# /etc/apt/sources.list.d/debian.sources names), with its own package lists
# under OUT/lists: the system's apt set-up and lists are not touched. The
# version fetched is the one of the installed android-libboringssl-dev when
# there is one, so the static and shared builds share headers and code.
#
# The build is cmake + ninja with clang, Release, GO111MODULE=off (the Go
# helpers CMake runs use only Go's standard library; with modules on, go
# would try to fetch the go.mod requirements). Only the ssl, crypto and bssl
# targets are built, ninja -j2 (the machine has 2 cores).
#
# Result, cached: OUT/lib/libssl.a, OUT/lib/libcrypto.a, OUT/bin/bssl,
# OUT/include (the headers of the same source) and OUT/STAMP (the Debian
# version). When OUT/STAMP exists the script does nothing, so a second
# `make STATIC_BORINGSSL=1` does not rebuild; remove OUT to start over.
set -eu

OUT=${1:-build/boringssl}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

if [ -f "$OUT/STAMP" ] && [ -f "$OUT/lib/libssl.a" ] && [ -f "$OUT/lib/libcrypto.a" ]; then
  exit 0
fi

for tool in apt-get cmake ninja clang clang++ go perl; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "build_boringssl: $tool is needed (apt-get install cmake ninja-build clang golang-go perl)" >&2
    exit 1
  }
done

# The suite and mirror the system uses, from its deb822 sources file (or the
# one-line format), so the source matches the installed binary package.
suite=
uri=
f=/etc/apt/sources.list.d/debian.sources
if [ -f "$f" ]; then
  uri=$(awk '/^URIs:/ && $2 ~ /debian\/?$/ {print $2; exit}' "$f")
  suite=$(awk '/^Suites:/ {print $2; exit}' "$f")
fi
if [ -z "$suite" ] && [ -f /etc/apt/sources.list ]; then
  line=$(grep -E '^deb +(\[[^]]*\] +)?[a-z]+://[^ ]*/debian/? ' /etc/apt/sources.list | head -n 1 || true)
  uri=$(echo "$line" | sed -E 's/^deb +(\[[^]]*\] +)?//' | awk '{print $1}')
  suite=$(echo "$line" | sed -E 's/^deb +(\[[^]]*\] +)?//' | awk '{print $2}')
fi
uri=${uri:-http://deb.debian.org/debian}
suite=${suite:-bookworm}

echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $suite main" \
  >"$OUT/sources.list"
mkdir -p "$OUT/lists/partial" "$OUT/src"
APT="apt-get -q -o Dir::Etc::SourceList=$OUT/sources.list -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists=$OUT/lists"

pkg=android-platform-external-boringssl
ver=$(dpkg-query -W -f '${Version}' android-libboringssl-dev 2>/dev/null || true)
srcdir=$(ls -d "$OUT/src/$pkg"-*/ 2>/dev/null | head -n 1 || true)
if [ -z "$srcdir" ]; then
  echo "build_boringssl: fetching $pkg ${ver:-(newest)} source from $uri $suite" >&2
  $APT update >"$OUT/apt-update.log" 2>&1 || {
    cat "$OUT/apt-update.log" >&2
    exit 1
  }
  # The installed version first; the suite's own when the mirror lacks it.
  (cd "$OUT/src" && { $APT source ${ver:+"$pkg=$ver"} || $APT source "$pkg"; }) \
    >"$OUT/apt-source.log" 2>&1 || {
    cat "$OUT/apt-source.log" >&2
    exit 1
  }
  srcdir=$(ls -d "$OUT/src/$pkg"-*/ | head -n 1)
fi
srcdir=${srcdir%/}
[ -f "$srcdir/src/CMakeLists.txt" ] || {
  echo "build_boringssl: no src/CMakeLists.txt in $srcdir" >&2
  exit 1
}

# Debian's source package drops third_party/googletest, which CMakeLists.txt
# declares a library for at configure time. Only ssl, crypto and bssl are
# built below, so the test library is never compiled; Debian's googletest
# source (package googletest) is put in its place when installed, else an
# empty file lets CMake configure.
gt="$srcdir/src/third_party/googletest"
if [ ! -e "$gt/src/gtest-all.cc" ]; then
  if [ -f /usr/src/googletest/googletest/src/gtest-all.cc ]; then
    ln -sfn /usr/src/googletest/googletest "$gt"
  else
    mkdir -p "$gt/src" "$gt/include"
    : >"$gt/src/gtest-all.cc"
  fi
fi

echo "build_boringssl: building $(basename "$srcdir") (cmake + ninja -j2, clang); takes a while" >&2
export GO111MODULE=off GOPATH="$OUT/gopath" GOCACHE="$OUT/gocache"
cmake -S "$srcdir/src" -B "$OUT/cmake" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
  >"$OUT/cmake.log" 2>&1 || {
  tail -n 40 "$OUT/cmake.log" >&2
  exit 1
}
ninja -C "$OUT/cmake" -j2 ssl crypto bssl >"$OUT/ninja.log" 2>&1 || {
  tail -n 40 "$OUT/ninja.log" >&2
  exit 1
}

mkdir -p "$OUT/lib" "$OUT/bin"
cp "$OUT/cmake/ssl/libssl.a" "$OUT/cmake/crypto/libcrypto.a" "$OUT/lib/"
cp "$OUT/cmake/tool/bssl" "$OUT/bin/"
rm -rf "$OUT/include"
cp -r "$srcdir/src/include" "$OUT/include"
basename "$srcdir" >"$OUT/STAMP"
echo "build_boringssl: done: $OUT/lib/libssl.a $OUT/lib/libcrypto.a $OUT/bin/bssl" >&2
