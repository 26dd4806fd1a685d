#!/usr/bin/env bash
# Set up phonehome on a fresh Debian machine (run as root, or with sudo available).
#
#   scripts/setup.sh          runtime: the Python package and the Debian tools phonehome uses when present
#   scripts/setup.sh --test   also everything the test suite needs (fixture toolchain, chromium, dev extras)
#
# Idempotent: packages already installed are not installed again.
set -euo pipefail
cd "$(dirname "$0")/.."

want_tests=0
[ "${1:-}" = "--test" ] && want_tests=1

SUDO=""
[ "$(id -u)" != 0 ] && SUDO="sudo"

# Debian tools: adb (interoperability and the adb-server path), erofs-utils / e2fsprogs /
# android-sdk-libsparse-utils (firmware images).
apt_pkgs=(adb erofs-utils e2fsprogs android-sdk-libsparse-utils)
if [ "$want_tests" = 1 ]; then
  # chromium renders the HTML report in a real browser; p7zip-full and lz4 cross-check firmware readers;
  # libsmali-java (baksmali/smali) cross-checks the OAT/odex writers and deodexes Dalvik odex files; dexdump
  # (ART 11) cross-checks the CompactDex writer and converter.
  apt_pkgs+=(chromium p7zip-full lz4 brotli zstd libsmali-java dexdump)
fi
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ "$want_tests" = 1 ]; then
  # The fixture APKs are committed; the toolchain lets one test rebuild them from source and compare.
  bash scripts/install-android-toolchain.sh >/dev/null
fi

extras="cluster"
[ "$want_tests" = 1 ] && extras="dev,cluster"
python3 -m pip install -q --disable-pip-version-check -e ".[${extras}]" 2>&1 | grep -v "Running pip as the 'root' user" || true
# pyenv keeps console scripts behind shims that must be refreshed after an install.
command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
echo "setup: done ($(phonehome --version))"
