#!/usr/bin/env bash
# Idempotent installer of the toolchain that rebuilds the fixture APKs (fixtures/build).
#
#  * Debian bookworm packages: javac 17, aapt, zipalign, apksigner, framework-res, smali, dexdump.
#  * dx (Java bytecode -> DEX) from Debian bullseye's dalvik-exchange package (bookworm has no d8/dx),
#    plus bullseye's libandroid-23-java (the real API 23 android.jar, used only to check that our
#    framework stubs have the real signatures; it never goes into an APK).
#    Both are fetched with `apt-get download` using a throw-away source list whose mirror is derived
#    from this machine's own apt configuration, and unpacked into a cache directory.
#
# Usage: scripts/install-android-toolchain.sh            (root or sudo needed for apt-get install)
# Env:   PHONEHOME_TOOLCHAIN  cache dir (default ~/.cache/phonehome/toolchain)
#        PHONEHOME_DEBIAN_MIRROR  Debian mirror URI to fetch the bullseye packages from (default: from apt sources)
#        SKIP_APT=1           do not apt-get install (packages already present)
set -euo pipefail

CACHE="${PHONEHOME_TOOLCHAIN:-$HOME/.cache/phonehome/toolchain}"
APT_PKGS=(openjdk-17-jdk-headless aapt zipalign apksigner android-framework-res libsmali-java dexdump)
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ] && [ "${SKIP_APT:-0}" != 1 ]; then
  echo "installing: ${missing[*]}"
  $SUDO apt-get -o DPkg::Lock::Timeout=120 install -y --no-install-recommends "${missing[@]}"
fi

DX_JAR="$CACHE/dx/usr/share/java/com.android.dx-10.0.0.jar"
ANDROID_JAR="$CACHE/android-23/usr/share/java/com.android.android-23.jar"
if [ -f "$DX_JAR" ] && [ -f "$ANDROID_JAR" ]; then
  echo "toolchain ready in $CACHE"
  exit 0
fi

mkdir -p "$CACHE"
work="$CACHE/apt"
mkdir -p "$work/debs"
rm -f "$work"/debs/*.deb

# 1) The machine's own sources may already carry them (Debian bullseye, Ubuntu with universe).
if apt-cache show dalvik-exchange >/dev/null 2>&1 && apt-cache show libandroid-23-java >/dev/null 2>&1; then
  echo "dalvik-exchange and libandroid-23-java found in this machine's apt sources"
  (cd "$work/debs" && apt-get -o APT::Sandbox::User=root download dalvik-exchange libandroid-23-java)
else
  # 2) A Debian mirror: $PHONEHOME_DEBIAN_MIRROR, else the one in this machine's apt sources
  #    (deb822 *.sources or one-line *.list), used with suite bullseye.
  mirror="${PHONEHOME_DEBIAN_MIRROR:-}"
  if [ -z "$mirror" ]; then
    for f in /etc/apt/sources.list.d/*.sources; do
      [ -f "$f" ] || continue
      uri=$(awk '/^URIs:/{print $2; exit}' "$f" | grep -v -- '-security' || true)
      if [ -n "$uri" ] && grep -q "^Suites:.*\(bookworm\|bullseye\|trixie\)" "$f"; then mirror="$uri"; break; fi
    done
  fi
  if [ -z "$mirror" ]; then
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
      [ -f "$f" ] || continue
      uri=$(awk '$1=="deb" && $0 ~ / (bookworm|bullseye|trixie)[ -]/ && $0 !~ /security/ {for(i=2;i<=NF;i++) if ($i ~ /^https?:/) {print $i; exit}}' "$f")
      if [ -n "$uri" ]; then mirror="$uri"; break; fi
    done
  fi
  if [ -z "$mirror" ]; then
    echo "error: no Debian mirror found in /etc/apt/sources.list*; set PHONEHOME_DEBIAN_MIRROR to one" >&2
    exit 2
  fi
  echo "using mirror $mirror (suite bullseye) for dalvik-exchange and libandroid-23-java"
  mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
  echo "deb $mirror bullseye main" > "$work/bullseye.list"
  APT_OPTS=(-o "Dir::Etc::SourceList=$work/bullseye.list" -o "Dir::Etc::SourceParts=/dev/null"
            -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o "APT::Sandbox::User=root")
  apt-get "${APT_OPTS[@]}" update
  (cd "$work/debs" && apt-get "${APT_OPTS[@]}" download dalvik-exchange libandroid-23-java)
  rm -rf "$work/cache" "$work/lists"
fi
rm -rf "$CACHE/dx" "$CACHE/android-23"
dpkg-deb -x "$work"/debs/dalvik-exchange_*.deb "$CACHE/dx"
dpkg-deb -x "$work"/debs/libandroid-23-java_*.deb "$CACHE/android-23"
test -f "$DX_JAR" && test -f "$ANDROID_JAR"
java -jar "$DX_JAR" --version
echo "toolchain ready in $CACHE"
