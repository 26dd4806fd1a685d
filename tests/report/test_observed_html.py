"""The HTML report shows static and observed evidence side by side, and says what `observed` does not prove."""

from __future__ import annotations

from toolkit.models import ScanResult
from toolkit.models.flow import Observation
from toolkit.report.html import render_html


def test_observed_section(fixed_result: ScanResult) -> None:
    assert 'id="observed"' not in render_html(fixed_result)  # nothing observed: no section
    flow = fixed_result.apks[0].flows[0]
    flow.observed.append(Observation(kind="appops", summary="READ_PHONE_STATE accessed (app ops)",
                                     evidence=["dumpsys appops: com.vendor.cloudmsg uid 1000 READ_PHONE_STATE <x>"]))
    html = render_html(fixed_result)
    section = html[html.index('id="observed"'):]
    assert "What it does not prove" in section and "READ_PHONE_STATE accessed" in section
    assert flow.id in section and "&lt;x&gt;" in section  # escaped
