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
# android-sdk-libsparse-utils (firmware images), tshark (`traffic scan --keylog`: TLS decrypted with a key log).
apt_pkgs=(adb erofs-utils e2fsprogs android-sdk-libsparse-utils tshark)
if [ "$want_tests" = 1 ]; then
  # chromium renders the HTML report in a real browser (poppler-utils reads back its printed PDF); p7zip-full and
  # lz4 cross-check firmware readers; libsmali-java (baksmali/smali) cross-checks the OAT/odex writers and deodexes
  # Dalvik odex files (all apps in one JVM: DeodexServer.java runs with the Java 11+ source launcher of the
  # default-jre-headless that libsmali-java pulls in); dexdump (ART 11) cross-checks the CompactDex writer and converter.
  apt_pkgs+=(chromium poppler-utils p7zip-full lz4 brotli zstd libsmali-java dexdump)
fi
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  # Another apt/dpkg process (unattended upgrades, a second setup) may hold the lock: wait for it, bounded.
  apt_wait=(-o DPkg::Lock::Timeout=120)
  $SUDO apt-get "${apt_wait[@]}" update -qq
  # (tshark's package asks whether non-root users may capture: noninteractive keeps the default, no.)
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get "${apt_wait[@]}" install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi
if [ "$want_tests" = 1 ]; then
  # The fixture APKs are committed; the toolchain lets one test rebuild them from source and compare.
  bash scripts/install-android-toolchain.sh >/dev/null
fi

extras="cluster"
[ "$want_tests" = 1 ] && extras="dev,cluster"
# pip stays quiet unless it fails: its warnings about the machine's own configuration (index locations that do not
# exist, running as root) say nothing about phonehome. On failure everything it said is shown.
pip_log=$(mktemp)
if ! python3 -m pip install -q --disable-pip-version-check -e ".[${extras}]" >"$pip_log" 2>&1; then
  cat "$pip_log" >&2
  rm -f "$pip_log"
  echo "setup: pip install failed (see above)" >&2
  exit 1
fi
rm -f "$pip_log"
# pyenv keeps console scripts behind shims that must be refreshed after an install.
command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
echo "setup: done ($(phonehome --version))"
