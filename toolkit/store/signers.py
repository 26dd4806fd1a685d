"""Signer checks: every scheme's certificates, scheme mismatches, debug certificates, AOSP test keys, signer
pinning of well-known packages, and system-uid apps against the platform key of the same image or phone.

Works on the ApkMetadata the analysis already extracted (certificates carry their schemes; unreadable signature
blocks are in `signature_problems`), so a malformed block is reported for that APK and the check goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from toolkit.models import ApkReport, RuleInfo
from toolkit.models.store import PlatformState, SignerCheck, TamperVerdict
from toolkit.store.data import SignerPin, TestKey
from toolkit.store.findings import add_finding, make_finding

log = logging.getLogger(__name__)

SYSTEM_UID = "android.uid.system"
PLATFORM_PACKAGE = "android"  # framework-res.apk: its signer is the platform key of the image
NOTHING_TO_COMPARE = "no pin, reference or platform key to compare with"


class PlatformKey:
    """The platform key of the scanned image/phone: the certificates of the `android` package, when present."""

    def __init__(self, certificates: set[str], source: str | None, conflicting: list[str]) -> None:
        self.certificates = certificates
        self.source = source
        self.conflicting = conflicting

    @property
    def known(self) -> bool:
        return bool(self.certificates)


def find_platform_key(reports: Sequence[ApkReport]) -> PlatformKey:
    """Signer of the `android` package (framework-res.apk) among the scanned APKs."""
    candidates = [r for r in reports if r.metadata and r.metadata.package == PLATFORM_PACKAGE and r.metadata.certificates]
    if not candidates:
        return PlatformKey(set(), None, [])
    first = candidates[0]
    certs = {c.sha256 for c in first.metadata.certificates} if first.metadata else set()
    conflicting = [
        r.path for r in candidates[1:] if r.metadata and {c.sha256 for c in r.metadata.certificates} != certs
    ]
    if conflicting:
        log.warning("several `android` packages with different signers; platform key taken from %s", first.path)
    return PlatformKey(certs, first.path, conflicting)


def _scheme_sets(report: ApkReport) -> dict[str, set[str]]:
    sets: dict[str, set[str]] = {}
    if report.metadata is None:
        return sets
    for cert in report.metadata.certificates:
        for scheme in cert.schemes:
            sets.setdefault(scheme, set()).add(cert.sha256)
    return sets


def check_signers(
    reports: Sequence[ApkReport],
    pins: Sequence[SignerPin],
    test_keys: Sequence[TestKey],
    rules: dict[str, RuleInfo],
    platform: PlatformKey | None = None,
) -> tuple[list[SignerCheck], set[str]]:
    """Check every APK's signers; signer findings are added to each report. Returns the checks and the ids of the
    rules that produced findings."""
    platform = platform or find_platform_key(reports)
    pins_by_package: dict[str, list[SignerPin]] = {}
    for pin in pins:
        pins_by_package.setdefault(pin.package, []).append(pin)
    test_key_names = {k.sha256: k.name for k in test_keys}
    used: set[str] = set()
    checks = [_check_one(r, pins_by_package, test_key_names, rules, platform, used) for r in reports]
    return checks, used


def _check_one(
    report: ApkReport,
    pins_by_package: dict[str, list[SignerPin]],
    test_key_names: dict[str, str],
    rules: dict[str, RuleInfo],
    platform: PlatformKey,
    used: set[str],
) -> SignerCheck:
    metadata = report.metadata
    if metadata is None:
        return SignerCheck(
            apk_path=report.path, apk_sha256=report.sha256, package=report.package,
            problems=[report.reason or "not analysed"],
            verdict=TamperVerdict(verdict="unreadable", reasons=[f"APK not readable: {report.reason}"]),
        )
    package = metadata.package
    digests = [c.sha256 for c in metadata.certificates]
    check = SignerCheck(
        apk_path=report.path, apk_sha256=report.sha256, package=package, schemes=list(metadata.signature_schemes),
        certificates=digests, subjects=[c.subject for c in metadata.certificates],
        problems=list(metadata.signature_problems), shared_user_id=metadata.shared_user_id,
        verdict=TamperVerdict(verdict="unverified"),
    )
    tampered: list[str] = []
    suspicious: list[str] = []
    genuine: list[str] = []

    def flag(rule_id: str, message: str, evidence: list[str], detail: str = "") -> None:
        rule = rules[rule_id]
        if add_finding(report, make_finding(rule, report, message, evidence, detail)):
            check.finding_rule_ids.append(rule_id)
            used.add(rule_id)

    # Unreadable blocks first: they are reported whatever else is found.
    if metadata.signature_problems:
        flag("signer-malformed", f"{package}: {len(metadata.signature_problems)} signature problem(s): "
             + "; ".join(metadata.signature_problems), list(metadata.signature_problems))
        suspicious.append("signature block or certificate unreadable")
    if not digests and not metadata.signature_problems:
        flag("signer-unsigned", f"{package}: no v1/v2/v3/v3.1 signature", [f"file {report.path}"])
        suspicious.append("unsigned")

    # Scheme mismatch: v1 and v2 must name the same signer; v3/v3.1 may rotate the key (proof-of-rotation), so
    # a difference there is reported with that caveat.
    sets = _scheme_sets(report)
    base = sets.get("v2") or sets.get("v1")
    mismatches = []
    if "v1" in sets and "v2" in sets and sets["v1"] != sets["v2"]:
        mismatches.append(f"v1 signer {sorted(sets['v1'])} != v2 signer {sorted(sets['v2'])}")
    if base is not None and "v3" in sets and sets["v3"] != base:
        mismatches.append(f"v3 signer {sorted(sets['v3'])} != v1/v2 signer {sorted(base)} (legitimate only with a v3 key rotation)")
    if mismatches:
        check.scheme_mismatch = True
        flag("signer-scheme-mismatch", f"{package}: signature schemes name different certificates: " + "; ".join(mismatches),
             mismatches)
        tampered.append("signature schemes disagree on the signer")

    debug = [c for c in metadata.certificates if c.is_debug]
    if debug:
        check.debug_certificate = True
        flag("signer-debug-cert", f"{package}: signed with a debug certificate ({debug[0].subject})",
             [f"certificate {c.sha256} {c.subject}" for c in debug])
        suspicious.append("debug certificate")

    test_keys = sorted({test_key_names[d] for d in digests if d in test_key_names})
    if test_keys:
        check.test_keys = test_keys
        role = " (asks for android.uid.system)" if metadata.shared_user_id == SYSTEM_UID else ""
        flag("signer-test-key", f"{package}{role}: signed with the public AOSP '{', '.join(test_keys)}' test key",
             [f"certificate {d} = AOSP {test_key_names[d]} key" for d in digests if d in test_key_names])
        suspicious.append(f"AOSP test key ({', '.join(test_keys)})")

    pins = pins_by_package.get(package, [])
    if pins:
        pinned = sorted({d for p in pins for d in p.sha256})
        check.pinned_certificates = pinned
        check.pin_source = "; ".join(sorted({p.source for p in pins}))
        if not digests:
            check.pin = "mismatch" if not metadata.signature_problems else "not_pinned"
        elif set(digests) & set(pinned):
            check.pin = "match"
            genuine.append("signer matches the pinned genuine certificate")
        else:
            check.pin = "mismatch"
            flag("signer-pinning-mismatch",
                 f"{package}: signed by {', '.join(digests)}, but the genuine app is signed by {', '.join(pinned)}: "
                 "tampered or repackaged copy",
                 [f"signer {d}" for d in digests] + [f"pinned {d} (source: {check.pin_source})" for d in pinned])
            tampered.append("known package signed by another key (pinning)")

    check.platform_key = _platform_state(metadata.shared_user_id, set(digests), platform)
    if check.platform_key == "mismatch":
        flag("platform-key-mismatch",
             f"{package}: shares {SYSTEM_UID} but is signed by {', '.join(digests) or 'no readable certificate'}, "
             f"not by this image's platform key {', '.join(sorted(platform.certificates))} (from {platform.source})",
             [f"signer {d}" for d in digests] + [f"platform key {d} from {platform.source}" for d in sorted(platform.certificates)])
        tampered.append("system-uid app not signed with the image's platform key")
    elif check.platform_key == "match" and metadata.shared_user_id == SYSTEM_UID:
        genuine.append("system-uid app signed with the image's platform key")

    if not digests and metadata.signature_problems:
        check.verdict = TamperVerdict(verdict="unreadable", reasons=suspicious + tampered)
    elif tampered:
        check.verdict = TamperVerdict(verdict="tampered", reasons=tampered + suspicious)
    elif suspicious:
        check.verdict = TamperVerdict(verdict="suspicious", reasons=suspicious + genuine)
    elif genuine:
        check.verdict = TamperVerdict(verdict="genuine", reasons=genuine)
    else:
        check.verdict = TamperVerdict(verdict="unverified", reasons=[NOTHING_TO_COMPARE])
    return check


def _platform_state(shared_user_id: str | None, digests: set[str], platform: PlatformKey) -> PlatformState:
    if shared_user_id != SYSTEM_UID:
        return "match" if platform.known and digests & platform.certificates else "not_applicable"
    if not platform.known:
        return "unknown"
    return "match" if digests & platform.certificates else "mismatch"
