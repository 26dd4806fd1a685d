"""The simulator's command outputs parse like a phone's: render the demo profile, parse with the inventory."""

from __future__ import annotations

import zipfile

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

from tests.simulator.support import FIXTURE_APKS
from toolkit.inventory import build_inventory, java_signature_hash
from toolkit.simulator import load_profile
from toolkit.simulator.shell import Shell

COMMANDS = {
    "getprop": "getprop", "getenforce": "getenforce", "pm_list_users": "pm list users",
    "pm_list_packages": "pm list packages -f -U -i --show-versioncode", "dumpsys_package": "dumpsys package",
    "settings_system": "settings list system", "settings_secure": "settings list secure",
    "settings_global": "settings list global", "dumpsys_alarm": "dumpsys alarm",
    "dumpsys_jobscheduler": "dumpsys jobscheduler", "ps": "ps -A -o USER,PID,PPID,NAME",
    "proc_net_tcp": "cat /proc/net/tcp", "proc_net_tcp6": "cat /proc/net/tcp6",
    "proc_net_udp": "cat /proc/net/udp", "proc_net_udp6": "cat /proc/net/udp6",
}


def _cert_hash(apk: str) -> str:
    with zipfile.ZipFile(FIXTURE_APKS / apk) as z:
        block = next(n for n in z.namelist() if n.startswith("META-INF/") and n.endswith((".RSA", ".EC", ".DSA")))
        cert = pkcs7.load_der_pkcs7_certificates(z.read(block))[0]
    return java_signature_hash(cert.public_bytes(Encoding.DER))


@pytest.mark.parametrize("sdk", [29, 31, 34])
def test_demo_outputs_parse_into_the_story(sdk: int) -> None:
    """Android 10 layouts, and Android 12+ ones (flat pending-alarm list, Android 11+ user lines)."""
    profile = load_profile("demo")
    profile.spec.props["ro.build.version.sdk"] = str(sdk)
    shell = Shell(profile, set(profile.spec.unreadable))
    outputs = {}
    for key, command in COMMANDS.items():
        result = shell.run(command)
        assert result.exit_code == 0, (command, result.stderr)
        outputs[key] = result.stdout.decode()
    inv = build_inventory(outputs)
    assert inv.parse_problems == []
    assert (inv.identity.model, inv.identity.serial, inv.identity.sdk, inv.identity.selinux) == \
        ("K7 Lite", "KST7L0042", sdk, "Enforcing")
    assert ("Pending alarms:" in outputs["dumpsys_alarm"]) == (sdk >= 31)
    cloud = inv.package("com.vendor.cloudmsg")
    assert cloud is not None
    assert (cloud.uid, cloud.shared_user, cloud.is_system, cloud.is_privileged, cloud.is_updated_system) == \
        (1000, "android.uid.system", True, True, True)
    assert cloud.apk_paths == ["/data/app/com.vendor.cloudmsg-Xk2mQ9vYbL1cT3wZ8nRf4A==/base.apk"]
    assert cloud.factory_code_path == "/system/priv-app/CloudMsg"
    assert "android.permission.READ_CONTACTS" in cloud.granted_runtime_permissions
    # PackageSignatures prints Arrays.hashCode of the signer's DER: same value as the inventory computes.
    assert cloud.signature_hashes == [_cert_hash("cloudmsg_v2.apk")]
    flashlight = inv.package("com.brightlight.flashlight")
    assert flashlight is not None and flashlight.installer == "com.vendor.appstore"
    assert flashlight.signature_hashes == [_cert_hash("flashlight_tampered.apk")]
    assert flashlight.signature_hashes != [_cert_hash("flashlight.apk")]  # re-signed by someone else
    fm = inv.package("com.kestrel.fmradio")
    assert fm is not None and not fm.enabled
    (alarm,) = [a for a in inv.alarms if a.package == "com.vendor.cloudmsg"]
    assert (alarm.interval_seconds, alarm.type, alarm.uid) == (1800.0, "RTC_WAKEUP", 1000)
    # Android's own tags: non-wakeup alarms are *alarm*:, wakeup ones *walarm*: (AlarmManagerService.makeTag).
    store_alarm = next(a for a in inv.alarms if a.package == "com.vendor.appstore")
    assert (store_alarm.type, store_alarm.tag) == ("RTC", "*alarm*:com.vendor.appstore.action.CHECK_UPDATES")
    assert alarm.tag == "*walarm*:com.vendor.cloudmsg.action.REPORT"
    # JobSchedulerService prints its sections at column 0, with no "Current Job Scheduler state:" header.
    assert "Current Job Scheduler state" not in outputs["dumpsys_jobscheduler"]
    assert f"\nRegistered {len(inv.jobs)} jobs:\n  JOB #u0a41/7: " in outputs["dumpsys_jobscheduler"]
    (job,) = inv.jobs
    assert (job.package, job.interval_seconds, job.requires_network) == ("com.vendor.appstore", 21600.0, True)
    vendor = [s for s in inv.sockets if s.remote_address == "47.88.10.20"]
    assert {(s.protocol, s.remote_port, s.state) for s in vendor} == {("tcp", 8080, "ESTABLISHED"),
                                                                       ("tcp6", 8080, "TIME_WAIT")}
    assert all(s.packages == ["com.vendor.cloudmsg"] for s in vendor)
    setting = inv.setting("secure", "cloudmsg_optin")
    assert setting is not None and setting.value == "1"
    assert {p.name: p.uid for p in inv.processes}["com.vendor.appstore"] == 10041
