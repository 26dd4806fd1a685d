"""Collectors over several Android versions: the simulator serves captured outputs (Android 7, 10, 12, 14, written
from Android's documented formats by the inventory helper) through the real protocol; the acquisition must save
them byte for byte and the inventory must parse them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.simulator.support import REPO, make_host_key, simulator
from toolkit.acquisition import adb
from toolkit.acquisition.device import COLLECTORS, PM_LIST, AcquireOptions, acquire
from toolkit.simulator import load_profile

pytestmark = pytest.mark.timeout(60)
DATA = REPO / "tests" / "inventory" / "data"
VERSIONS = sorted(p.name for p in DATA.glob("android*") if p.is_dir()) if DATA.is_dir() else []


def _profile(tmp: Path, version: str) -> Path:
    src = DATA / version
    outputs: dict[str, dict[str, object]] = {}
    for c in COLLECTORS:
        if (src / f"{c.key}.txt").is_file() and c.key != "pm_list_packages":
            outputs[c.commands[0]] = {"file": str(src / f"{c.key}.txt")}
    if (src / "pm_list_packages_user0.txt").is_file():
        # This phone rejects the newer options and lists nothing without --user (as the capture shows).
        outputs[PM_LIST] = {"stderr": "Error: Unknown option: --show-versioncode\n", "exit_code": 1}
        outputs["pm list packages -f -U -i"] = {"stderr": "Error: Unknown option: -U\n", "exit_code": 1}
        outputs["pm list packages -f -i"] = {"stdout": ""}
        outputs["pm list packages -f -i --user 0"] = {"file": str(src / "pm_list_packages_user0.txt")}
        for option in (f"{PM_LIST} --user 0", "pm list packages -f -U -i --user 0"):
            outputs[option] = {"stderr": "Error: Unknown option\n", "exit_code": 1}
    else:
        outputs[PM_LIST] = {"file": str(src / "pm_list_packages.txt")}
    props = dict(re.findall(r"^\[([^\]]+)\]: \[(.*)\]$", (src / "getprop.txt").read_text(), flags=re.M))
    root = tmp / version
    root.mkdir()
    keep = {k: v for k, v in props.items() if k.startswith(("ro.product.", "ro.build.version.sdk", "ro.serialno"))}
    (root / "profile.yml").write_text(yaml.safe_dump({"name": version, "props": keep, "command_outputs": outputs}))
    return root


@pytest.mark.parametrize("version", VERSIONS)
def test_captured_outputs_of_each_android_version_travel_intact_and_parse(tmp_path: Path, version: str) -> None:
    key = make_host_key(tmp_path)
    profile = load_profile(_profile(tmp_path, version))
    with simulator(profile, key) as sim:
        result = acquire(tmp_path / "ev", lambda: adb.connect_tcp("127.0.0.1", sim.port, key_path=key),
                         AcquireOptions(apks="none"))
    src = DATA / version
    for rec in result.manifest.commands:
        if (src / f"{rec.key}.txt").is_file() and rec.key != "pm_list_packages":
            assert (tmp_path / "ev" / rec.output_file).read_bytes() == (src / f"{rec.key}.txt").read_bytes(), rec.key  # type: ignore[operator]
    inv = result.inventory
    assert inv.packages, "no packages parsed"
    assert inv.identity.sdk is not None and inv.identity.sdk >= 24
    assert inv.sockets and inv.processes
    if (src / "pm_list_packages_user0.txt").is_file():
        assert result.manifest.command("pm_list_packages").command == "pm list packages -f -i"  # type: ignore[union-attr]
        assert result.manifest.command("pm_list_packages_user0").command == "pm list packages -f -i --user 0"  # type: ignore[union-attr]
    assert result.manifest.complete
