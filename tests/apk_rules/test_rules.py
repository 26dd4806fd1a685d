"""Rules are data: every rule file is schema-checked and its positive/negative fixture cases hold."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from toolkit.analysis import analyse_apk, rule_infos, rules_version
from toolkit.analysis.catalogue import RULES_DIR, Catalogue, CatalogueError
from toolkit.analysis.rules import evaluate, load_rule, load_rule_test, load_rules
from toolkit.models import ApkReport, Status

ROOT = Path(__file__).resolve().parents[2]
APKS = ROOT / "fixtures" / "apks"
RULE_FILES = sorted(p for p in (RULES_DIR / "rules").glob("*.yml") if not p.name.endswith(".test.yml"))
_reports: dict[str, ApkReport] = {}


def _report(name: str) -> ApkReport:
    if name not in _reports:
        path = APKS / f"{name}.apk"
        assert path.is_file(), f"rule test names a fixture that does not exist: {path}"
        _reports[name] = analyse_apk(path)
    return _reports[name]


def _cases() -> list[object]:
    out = []
    for path in RULE_FILES:
        test = load_rule_test(path.with_name(path.stem + ".test.yml"))
        out += [pytest.param(path.stem, name, True, id=f"{path.stem}+{name}") for name in test.positive]
        out += [pytest.param(path.stem, name, False, id=f"{path.stem}-{name}") for name in test.negative]
    return out


def test_rules_load_and_have_tests() -> None:
    rules = load_rules()
    assert len(rules) >= 15
    for path in RULE_FILES:
        assert path.with_name(path.stem + ".test.yml").is_file(), f"{path} has no test file beside it"
    ids = {r.id for r in rules}
    assert {"device-id-network", "sms-forwarded-by-sms", "identifier-in-log", "periodic-beacon"} <= ids
    assert {i.id for i in rule_infos()} == ids


def test_rules_use_known_kinds() -> None:
    cat = Catalogue()
    for rule in load_rules():
        unknown = set(rule.match.sources) - set(cat.source_kinds)
        assert not unknown, f"{rule.id}: unknown source kinds {unknown}"


def test_rules_version_is_stable_hash() -> None:
    assert rules_version() == rules_version()
    assert len(rules_version()) == 16


@pytest.mark.parametrize(("rule_id", "apk", "positive"), _cases())
def test_rule_cases(rule_id: str, apk: str, positive: bool) -> None:
    report = _report(apk)
    assert report.status == Status.analysed, report.reason
    fired = [f for f in report.findings if f.rule_id == rule_id]
    if positive:
        assert fired, f"{rule_id} did not fire on {apk}; findings: {[f.rule_id for f in report.findings]}"
        finding = fired[0]
        flow_ids = {f.id for f in report.flows}
        assert finding.flow_ids and set(finding.flow_ids) <= flow_ids
        assert len(finding.fingerprint) == 32
    else:
        assert not fired, f"{rule_id} fired on {apk}: {fired[0].message}"


def test_fingerprint_stable_across_runs() -> None:
    a = analyse_apk(APKS / "imei_http_post.apk")
    b = analyse_apk(APKS / "imei_http_post.apk")
    assert [f.fingerprint for f in a.findings] == [f.fingerprint for f in b.findings]
    assert evaluate(a) == a.findings


def _copy_rules(tmp_path: Path) -> Path:
    root = tmp_path / "apk_rules"
    shutil.copytree(RULES_DIR, root)
    return root


def test_bad_rule_names_file_and_field(tmp_path: Path) -> None:
    root = _copy_rules(tmp_path)
    bad = root / "rules" / "device-id-network.yml"
    bad.write_text(bad.read_text().replace("severity: high", "severity: extreme"))
    with pytest.raises(CatalogueError) as err:
        load_rules(root)
    assert "device-id-network.yml" in str(err.value) and "severity" in str(err.value)


def test_rule_id_must_match_file_name(tmp_path: Path) -> None:
    root = _copy_rules(tmp_path)
    (root / "rules" / "device-id-network.yml").rename(root / "rules" / "other-name.yml")
    with pytest.raises(CatalogueError, match="does not match the file name"):
        load_rule(root / "rules" / "other-name.yml")


def test_unknown_field_rejected(tmp_path: Path) -> None:
    root = _copy_rules(tmp_path)
    path = root / "rules" / "identifier-in-log.yml"
    path.write_text(path.read_text() + "sevrity: low\n")
    with pytest.raises(CatalogueError, match="sevrity"):
        load_rule(path)


def test_bad_catalogue_names_file_and_field(tmp_path: Path) -> None:
    root = _copy_rules(tmp_path)
    path = root / "sinks.yml"
    path.write_text(path.read_text().replace("  - kind: sms\n", "  - kinnd: sms\n", 1))
    with pytest.raises(CatalogueError) as err:
        Catalogue(root)
    assert "sinks.yml" in str(err.value) and "kind" in str(err.value)


def test_a_callback_cell_must_be_a_declared_channel(tmp_path: Path) -> None:
    root = _copy_rules(tmp_path)
    path = root / "models.yml"
    text = path.read_text()
    assert "pass_cell: messenger" in text and "- name: messenger" in text
    path.write_text(text.replace("- name: messenger", "- name: mesenger", 1))
    with pytest.raises(CatalogueError) as err:
        Catalogue(root)
    assert "models.yml" in str(err.value) and "'messenger'" in str(err.value)
