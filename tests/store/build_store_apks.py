#!/usr/bin/env python3
"""Build the extra APKs of the store tests into tests/store/data/ (committed; rerun to rebuild).

  cloudmsg_aosp_platform.apk  fixtures/apks/cloudmsg.apk (sharedUserId android.uid.system) with its signature
                              removed and re-signed (v1+v2) with the public AOSP platform test key
                              (tests/store/keys/aosp_platform.pk8 + apk_rules/signers/aosp/platform.x509.pem):
                              a system app signed the way a careless vendor signs its firmware.
  android_platform_dev.apk    a minimal package named `android` (what framework-res.apk is), built with aapt and
                              signed with the fixtures' "dev" key: the platform key of a pretend image, so the
                              fixtures' system-uid apps signed with "dev" match it and the AOSP-signed copy does not.
  flashlight_debug.apk        fixtures/apks/flashlight.apk re-signed with an SDK-style debug key
                              (CN=Android Debug, O=Android, C=US), generated fresh by keytool on each build (so this
                              one APK is not byte-reproducible; its certificate subject is what the test checks).

Toolchain: aapt, zipalign, apksigner (scripts/install-android-toolchain.sh). Output is deterministic (fixed zip
timestamps, sorted entries; apksigner's v1/v2 signatures are deterministic for RSA PKCS#1 v1.5).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DATA = HERE / "data"
FIXTURE_KEYS = REPO / "fixtures" / "keys"
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
ANDROID_MANIFEST = """<?xml version="1.0" encoding="utf-8"?>
<manifest xmlns:android="http://schemas.android.com/apk/res/android" package="android" coreApp="true">
    <application />
</manifest>
"""


def run(cmd: list[str]) -> None:
    env = dict(os.environ, SOURCE_DATE_EPOCH="315532800", LC_ALL="C", TZ="UTC")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout}{proc.stderr}")


def rezip_without_signature(src: Path, dst: Path) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in sorted(zin.namelist()):
            if name.startswith("META-INF/"):
                continue
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_STORED if name == "resources.arsc" else zipfile.ZIP_DEFLATED
            zout.writestr(info, zin.read(name), compresslevel=9)


def sign(unsigned: Path, out: Path, key_args: list[str], work: Path) -> None:
    aligned = work / f"{out.stem}.aligned.apk"
    run(["zipalign", "-f", "-p", "4", str(unsigned), str(aligned)])
    run(["apksigner", "sign", *key_args, "--v1-signing-enabled", "true", "--v2-signing-enabled", "true",
         "--v3-signing-enabled", "false", "--v4-signing-enabled", "false", "--out", str(out), str(aligned)])


def main() -> int:
    DATA.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="phonehome-store-") as tmp:
        work = Path(tmp)
        unsigned = work / "cloudmsg.unsigned.apk"
        rezip_without_signature(REPO / "fixtures" / "apks" / "cloudmsg.apk", unsigned)
        sign(unsigned, DATA / "cloudmsg_aosp_platform.apk",
             ["--key", str(HERE / "keys" / "aosp_platform.pk8"),
              "--cert", str(REPO / "apk_rules" / "signers" / "aosp" / "platform.x509.pem")], work)

        manifest = work / "AndroidManifest.xml"
        manifest.write_text(ANDROID_MANIFEST, encoding="utf-8")
        res_apk = work / "android.res.apk"
        run(["aapt", "package", "-f", "-M", str(manifest), "-F", str(res_apk)])
        unsigned_android = work / "android.unsigned.apk"
        rezip_without_signature(res_apk, unsigned_android)
        sign(unsigned_android, DATA / "android_platform_dev.apk",
             ["--ks", str(FIXTURE_KEYS / "dev.p12"), "--ks-type", "PKCS12", "--ks-key-alias", "dev",
              "--ks-pass", "pass:phonehome-dev", "--key-pass", "pass:phonehome-dev"], work)
        keystore = work / "debug.p12"
        run(["keytool", "-genkeypair", "-keystore", str(keystore), "-storetype", "PKCS12", "-storepass", "android",
             "-keypass", "android", "-alias", "androiddebugkey", "-keyalg", "RSA", "-keysize", "2048",
             "-validity", "10000", "-dname", "CN=Android Debug,O=Android,C=US"])
        unsigned_flashlight = work / "flashlight.unsigned.apk"
        rezip_without_signature(REPO / "fixtures" / "apks" / "flashlight.apk", unsigned_flashlight)
        sign(unsigned_flashlight, DATA / "flashlight_debug.apk",
             ["--ks", str(keystore), "--ks-type", "PKCS12", "--ks-key-alias", "androiddebugkey",
              "--ks-pass", "pass:android", "--key-pass", "pass:android"], work)
    for apk in sorted(DATA.glob("*.apk")):
        print(f"built {apk.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
