from __future__ import annotations

import pytest

from toolkit.inventory.processes import parse_ps, uid_for_user, user_for_uid
from toolkit.models.device import ParseProblem

from .conftest import raw


def test_toybox_ps_android10() -> None:
    procs = {p.pid: p for p in parse_ps(raw("android10", "ps"))}
    assert len(procs) == 14
    cm = procs[1184]
    assert (cm.user, cm.ppid, cm.name, cm.uid) == ("system", 353, "com.vendor.cloudmsg", 1000)
    assert procs[2260].name == "com.brightlight.flashlight:remote" and procs[2260].uid == 10087
    assert procs[1011].uid == 1001  # radio
    assert procs[2402].uid == 99003  # isolated u0_i3
    assert procs[2].name == "[kthreadd]"


def test_toolbox_ps_android7_state_column() -> None:
    procs = {p.pid: p for p in parse_ps(raw("android7", "ps"))}
    assert procs[1].name == "/init"
    assert procs[1033].name == "com.vendor.cloudmsg" and procs[1033].ppid == 233 and procs[1033].uid == 1000
    assert procs[2210].uid == 10087
    assert procs[3388].name == "ps"


def test_secondary_users_and_app_zygote() -> None:
    procs = {p.pid: p for p in parse_ps(raw("android12", "ps"))}
    assert procs[3551].uid == 1010211
    assert procs[3702].uid == 90003
    assert procs[1502].user == "webview_zygote" and procs[1502].uid == 1053
    procs14 = {p.pid: p for p in parse_ps(raw("android14", "ps"))}
    assert procs14[3490].uid == 1001000  # u10_system


@pytest.mark.parametrize(("name", "uid"), [("root", 0), ("system", 1000), ("u0_a123", 10123), ("u10_a5", 1010005),
                                           ("u0_i7", 99007), ("shell", 2000), ("10123", 10123), ("nosuchuser", None)])
def test_uid_for_user(name: str, uid: int | None) -> None:
    assert uid_for_user(name) == uid


def test_user_for_uid_round_trip() -> None:
    for uid in (0, 1000, 1001, 2000, 10041, 1010211, 99003, 1001000):
        assert uid_for_user(user_for_uid(uid)) == uid


def test_bad_rows_are_reported() -> None:
    problems: list[ParseProblem] = []
    text = "USER PID PPID NAME\nroot 1 0 init\nroot x 0 bad\nshort\n"
    procs = parse_ps(text, problems)
    assert [p.pid for p in procs] == [1]
    assert [p.line for p in problems] == [3, 4]


def test_no_header_is_reported() -> None:
    problems: list[ParseProblem] = []
    assert parse_ps("/system/bin/sh: ps: not found\n", problems) == []
    assert "header" in problems[0].reason


def test_toybox_default_columns() -> None:
    text = (
        "USER           PID  PPID     VSZ    RSS WCHAN            ADDR S NAME\n"
        "root             1     0 10913296  9368 do_epoll_wait       0 S init\n"
        "u0_a87        2210   353 15095312 98420 do_epoll_wait       0 S com.brightlight.flashlight\n"
    )
    procs = parse_ps(text)
    assert [(p.pid, p.ppid, p.name, p.uid) for p in procs] == [(1, 0, "init", 0),
                                                              (2210, 353, "com.brightlight.flashlight", 10087)]
