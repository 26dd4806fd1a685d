"""Every fixture's ground truth (fixtures/apps/*/truth.yml) holds: expected flows found, forbidden flows absent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from toolkit.analysis import analyse_apk
from toolkit.models import ApkReport, Flow, Status

ROOT = Path(__file__).resolve().parents[2]
APPS = ROOT / "fixtures" / "apps"
APKS = ROOT / "fixtures" / "apks"

TRUTHS = sorted(p for p in APPS.glob("*/truth.yml") if (APKS / f"{p.parent.name}.apk").is_file())
_reports: dict[str, ApkReport] = {}


def _report(name: str) -> ApkReport:
    if name not in _reports:
        _reports[name] = analyse_apk(APKS / f"{name}.apk")
    return _reports[name]


def _truth(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path}: not a mapping"
    return data


def _matches(flow: Flow, spec: dict[str, Any], strict: bool) -> bool:
    if flow.source.kind != spec["source"] or flow.sink.kind != spec["sink"]:
        return False
    if "source_method" in spec and flow.source.location.qualified_method != spec["source_method"]:
        return False
    if "sink_method" in spec and flow.sink.location.qualified_method != spec["sink_method"]:
        return False
    if not strict:
        return True
    if "endpoint" in spec and spec["endpoint"] not in {e.value for e in flow.endpoints}:
        return False
    if "trigger" in spec and spec["trigger"] not in {t.kind for t in flow.triggers}:
        return False
    if "period_seconds" in spec and spec["period_seconds"] not in {t.period_seconds for t in flow.triggers}:
        return False
    return not ("transforms" in spec and not set(spec["transforms"]) <= set(flow.transformations))


def _describe(report: ApkReport) -> str:
    return "\n".join(
        f"  {f.source.kind}->{f.sink.kind} {f.source.location.qualified_method} => {f.sink.location.qualified_method}"
        f" endpoints={[e.value for e in f.endpoints]} triggers={[(t.kind, t.period_seconds) for t in f.triggers]}"
        f" transforms={f.transformations}"
        for f in report.flows
    ) or "  (no flows)"


def _cases(key: str) -> list[Any]:
    out = []
    for path in TRUTHS:
        try:
            truth = _truth(path)
        except yaml.YAMLError as exc:
            out.append(pytest.param(path.parent.name, {"unparseable": f"{path}: {exc}"}, id=f"{path.parent.name}-truth-unreadable"))
            continue
        for i, spec in enumerate(truth.get(key) or []):
            # A documented engine limitation stays visible: strict xfail, so fixing it forces the truth update.
            marks = [pytest.mark.xfail(strict=True, reason=spec["known_gap"])] if spec.get("known_gap") else []
            out.append(pytest.param(path.parent.name, spec, id=f"{path.parent.name}-{i}-{spec['source']}-{spec['sink']}",
                                    marks=marks))
    return out


def test_corpus_present() -> None:
    assert TRUTHS, "no fixture APK with a truth.yml found"


@pytest.mark.parametrize(("app", "spec"), _cases("expect_flows"))
def test_expected_flow(app: str, spec: dict[str, Any]) -> None:
    assert "unparseable" not in spec, spec.get("unparseable")
    report = _report(app)
    assert report.status == Status.analysed, report.reason
    assert any(_matches(f, spec, strict=False) for f in report.flows), f"missing {spec}\nfound:\n{_describe(report)}"
    assert any(_matches(f, spec, strict=True) for f in report.flows), (
        f"flow found but evidence differs from {spec}\nfound:\n{_describe(report)}"
    )


@pytest.mark.parametrize(("app", "spec"), _cases("forbid_flows"))
def test_forbidden_flow(app: str, spec: dict[str, Any]) -> None:
    assert "unparseable" not in spec, spec.get("unparseable")
    report = _report(app)
    assert report.status == Status.analysed, report.reason
    bad = [f for f in report.flows if _matches(f, spec, strict=False)]
    assert not bad, f"forbidden {spec} reported\nfound:\n{_describe(report)}"
