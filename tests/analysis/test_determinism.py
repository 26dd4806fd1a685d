"""Forensic reproducibility: the same APK gives the same report whatever the interpreter's hash seed.

Flow ids and finding fingerprints feed baselines and let a second examiner check a report; they must not depend on
set iteration order (PYTHONHASHSEED). Several equivalent sink calls must always yield the same chosen one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
APPS = ["boot_receiver", "bench_java_3", "cb_handler", "cloudmsg", "cloudmsg_v2", "prop_collections"]

SCRIPT = """
import json, sys
from toolkit.analysis import analyse_apk
out = {}
for path in sys.argv[1:]:
    report = analyse_apk(path)
    out[path] = {
        "flows": sorted((f.id, f.source.location.qualified_method, f.sink.location.qualified_method, f.sink.api,
                         f.sink.location.offset or -1) for f in report.flows),
        "findings": sorted(f.fingerprint for f in report.findings),
    }
print(json.dumps(out))
"""


def analyse_with_seed(seed: str, apks: list[str]) -> dict[str, object]:
    env = dict(os.environ, PYTHONHASHSEED=seed)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, *apks], capture_output=True, text=True, env=env, cwd=REPO, timeout=240
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_reports_do_not_depend_on_hash_seed() -> None:
    apks = [str(REPO / "fixtures" / "apks" / f"{name}.apk") for name in APPS]
    apks = [a for a in apks if Path(a).exists()]
    if len(apks) < 3:
        pytest.skip("fixture corpus incomplete")
    first = analyse_with_seed("1", apks)
    for seed in ("3", "12345"):
        other = analyse_with_seed(seed, apks)
        for apk in apks:
            assert other[apk] == first[apk], f"{Path(apk).name}: report differs between PYTHONHASHSEED=1 and {seed}"
