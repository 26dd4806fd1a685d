"""A simulated Android handset that speaks the real ADB wire protocol on loopback (tests and the demo).

    with DeviceSimulator("demo", auth="trusted", trusted_keys=["~/.android/adbkey.pub"], faults=Faults()) as sim:
        sim.port, sim.serial        # 127.0.0.1:<port>: `adb connect`, adb-shell's TcpTransport, phonehome --tcp
        sim.log, sim.commands       # what the host did (CNXN/AUTH/OPEN/SYNC/SHELL/FAULT events), for assertions

Protocol (device side, as adbd): CNXN with a "device::ro.product.name=..;ro.product.model=..;ro.product.device=..;
features=.." banner (shell_v2/cmd from API 24, stat_v2 from API 26); AUTH TOKEN and SIGNATURE checked against
trusted adbkey.pub keys (RSA PKCS#1 v1.5 over the 20-byte token); RSAPUBLICKEY accepted only in "prompt" mode;
OPEN/OKAY/WRTE/CLSE with per-stream flow control and the negotiated max payload; services shell: (v1, raw or
interactive), shell,v2 (exit codes), exec:, sync: (STAT/STA2/LST2/LIST/RECV/QUIT, FAIL "open failed: Permission
denied"). Write services (reboot:, root:, remount:, install ...) are refused with CLSE, like an unknown service.
Checksums: 0 is accepted (newer hosts skip them), real ones are always sent (adb-shell verifies them).

Auth modes: "open" (ro.adb.secure=0), "trusted" (only trusted keys), "prompt" (an offered key is accepted after
Faults.auth_delay_seconds, as if the user tapped Allow, and trusted from then on), "never".

Profiles (toolkit/simulator/profiles/<name>/profile.yml, or any directory): props, packages (APK file, device path,
splits, uid, flags, permissions, install times, updated-system original), settings, alarms, jobs, processes,
sockets, unreadable paths, quirks, and command_outputs (captured answers for exact command lines, e.g. outputs
of other Android versions). An fs/ tree beside the YAML is served as the phone's root. Command outputs are
rendered in Android 10's formats (toolkit.simulator.render); unknown commands answer like mksh (exit 127).

Faults: drop the connection after N bytes of a pull (drop_times connections), stall pulls, deny paths, delay the
Allow tap, behave offline (never answer CNXN).

Manual testing: `python -m toolkit.simulator --profile demo --port 5555 --auth prompt`, then `adb connect
127.0.0.1:5555` or `phonehome device scan --tcp 127.0.0.1:5555`.
"""

from toolkit.simulator.profile import DeviceProfile, ProfileError, load_profile
from toolkit.simulator.server import DeviceSimulator, Faults

__all__ = ["DeviceProfile", "DeviceSimulator", "Faults", "ProfileError", "load_profile"]
