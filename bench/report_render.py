"""Reporter and indicator speed on a firmware-sized scan result.

Scales the fixed scan result of the reporter tests (tests/report/data/scan_result.json: 4 APKs, 4 flows, 9 findings)
to --apks APKs by copying its APK reports under new package names, builds an indicator bundle of --iocs domain,
IP, app-id and hash indicators, then times indicator matching, baseline suppression and each reporter over --runs
runs and prints the figures and the output sizes. A budget phone image holds 150-400 APKs.

    python bench/report_render.py [--apks 400] [--iocs 2000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from toolkit.findings import (  # noqa: E402
    apply_baseline,
    apply_indicators,
    create_baseline,
    load_indicator_file,
)
from toolkit.models import ScanResult  # noqa: E402
from toolkit.report.csv_report import render_csv  # noqa: E402
from toolkit.report.html import render_html  # noqa: E402
from toolkit.report.json_report import render_json  # noqa: E402
from toolkit.report.markdown import render_markdown  # noqa: E402
from toolkit.report.sarif import render_sarif  # noqa: E402
from toolkit.report.story import build_story  # noqa: E402
from toolkit.report.terminal import render_text  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "tests" / "report" / "data" / "scan_result.json"


def scaled(n: int) -> ScanResult:
    base = ScanResult.model_validate_json(DATA.read_text(encoding="utf-8"))
    apks = []
    for i in range(n):
        src = base.apks[i % len(base.apks)].model_copy(deep=True)
        name = f"com.bench.app{i:04d}"
        src.package = name if src.package else None
        src.path = f"evidence/apks/system/app/App{i:04d}/App{i:04d}.apk"
        src.sha256 = f"{i:064x}"
        for finding in src.findings:
            finding.package = name
            finding.apk_sha256 = src.sha256
            finding.fingerprint = f"{finding.fingerprint[:24]}{i:08x}"
        apks.append(src)
    return base.model_copy(update={"apks": apks})


def bundle(path: Path, count: int) -> Path:
    objects: list[dict[str, str]] = [{"type": "malware", "id": "malware--bench", "name": "Bench"}]
    kinds = [
        ("domain-name:value", lambda i: f"host{i}.bench.example"),
        ("ipv4-addr:value", lambda i: f"198.18.{i // 256 % 256}.{i % 256}"),
        ("app:id", lambda i: f"com.bench.ioc{i}"),
        ("file:hashes.sha256", lambda i: f"{i + 10**6:064x}"),
    ]
    for i in range(count):
        path_, value = kinds[i % len(kinds)]
        objects.append({"type": "indicator", "id": f"indicator--{i}", "pattern_type": "stix",
                        "pattern": f"[{path_} = '{value(i)}']"})
        objects.append({"type": "relationship", "id": f"relationship--{i}", "relationship_type": "indicates",
                        "source_ref": f"indicator--{i}", "target_ref": "malware--bench"})
    # one that matches every copy of the flashlight APK (IP of its flow endpoint)
    objects.append({"type": "indicator", "id": "indicator--hit", "pattern_type": "stix",
                    "pattern": "[ipv4-addr:value = '203.0.113.0/24']"})
    path.write_text(json.dumps({"type": "bundle", "id": "bundle--bench", "objects": objects}), encoding="utf-8")
    return path


def timed(label: str, runs: int, fn) -> object:  # type: ignore[no-untyped-def]
    best, out = float("inf"), None
    for _ in range(runs):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    size = f"  {len(out) / 1024:9.0f} KiB" if isinstance(out, str) else ""
    print(f"{label:<28} {best * 1000:9.1f} ms{size}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apks", type=int, default=400)
    parser.add_argument("--iocs", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    result = scaled(args.apks)
    findings = len(result.all_findings())
    flows = sum(len(a.flows) for a in result.apks)
    print(f"scan result: {len(result.apks)} APKs, {flows} flows, {findings} findings; {args.iocs} indicators; best of {args.runs}")
    with tempfile.TemporaryDirectory() as tmp:
        path = bundle(Path(tmp) / "bench.stix2", args.iocs)
        sets = timed("load indicators", args.runs, lambda: [load_indicator_file(path)])
        matched = timed("match indicators", args.runs, lambda: apply_indicators(result, sets))  # type: ignore[arg-type]
        assert isinstance(matched, ScanResult)
        print(f"{'':<28} {len(matched.ioc_matches)} matches")
        baseline = create_baseline(matched)
        timed("apply baseline", args.runs, lambda: apply_baseline(matched, baseline, "baseline.json"))
    timed("build story (html/md/terminal)", args.runs, lambda: build_story(matched))  # type: ignore[arg-type]
    for label, render in (("render json", render_json), ("render sarif", render_sarif), ("render html", render_html),
                          ("render markdown", render_markdown), ("render terminal (text)", render_text),
                          ("render csv", render_csv)):
        timed(label, args.runs, lambda render=render: render(matched))


if __name__ == "__main__":
    main()
