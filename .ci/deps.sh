#!/usr/bin/env bash
# Checks the Debian packages a build needs and installs the missing ones.
# As root: apt-get update once, then a noninteractive install. Otherwise:
# prints the one apt-get line to run and fails.
# Then installs the pinned Zig into build/tools (.ci/zig.sh) for
# make check-macos-compile.
# Usage: deps.sh [extra package...]   (the build's own list is below)
set -euo pipefail
# mingw-w64 and wine (wine64 holds the 64-bit loader) are for
# make CROSS=x86_64-w64-mingw32 and make check-windows.
pkgs=(make gcc clang libclang-rt-14-dev libcriterion-dev pkg-config
      gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static dnsmasq-base
      android-libboringssl-dev openssl curl nginx-light mingw-w64 wine wine64 "$@")
missing=()
for p in "${pkgs[@]}"; do
  st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$st" = installed ] || missing+=("$p")
done
# npm (for Zig) may come with another nodejs build: only a missing command
# asks for Debian's.
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -eq 0 ]; then
  :
elif [ "$(id -u)" -eq 0 ]; then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "deps: missing packages; run:"
  echo "  sudo apt-get install -y ${missing[*]}"
  exit 1
fi
bash "$(dirname "$0")/zig.sh" build/tools
