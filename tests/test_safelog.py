"""Log lines phonehome writes cannot carry terminal escapes, and do not crash when stderr is not a terminal (issue
12, item 18). File names and a phone's output are written by the people under investigation."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from toolkit import safelog

REPO = Path(__file__).resolve().parents[1]
OSC_TITLE = "\x1b]0;PWNED\x07"
CSI_CLEAR = "\x1b[2J"


def _run(code: str, tmp_path: Path) -> tuple[int, str]:
    """Run `code` in a fresh interpreter with stderr redirected to a file (not a terminal)."""
    err = tmp_path / "stderr.txt"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    with err.open("w") as fh:
        proc = subprocess.run([sys.executable, "-c", code], stderr=fh, stdout=subprocess.DEVNULL, env=env,
                              cwd=REPO, timeout=120)
    return proc.returncode, err.read_text(errors="replace")


def test_logging_after_androguard_import_with_stderr_not_a_terminal(tmp_path: Path) -> None:
    # A logger used before any configuration (as in a worker process) writes to sys.stderr; androguard's
    # colorama.init() used to replace it with a wrapper that raises on an OSC title sequence.
    code = (
        "import logging, toolkit.analysis.androguard_backend\n"
        f"logging.getLogger('x').warning('file %s', {OSC_TITLE + 'evil.apk'!r})\n"
        "import sys; sys.stderr.write('after\\n')\n"
    )
    rc, err = _run(code, tmp_path)
    assert rc == 0
    assert "set_title" not in err and "Logging error" not in err, err
    assert "after" in err


def test_installed_logging_escapes_control_characters(tmp_path: Path) -> None:
    code = (
        "import logging\n"
        "from toolkit import safelog\n"
        "safelog.install(logging.INFO)\n"
        "import toolkit.analysis.androguard_backend\n"
        f"logging.getLogger('toolkit.x').warning('no usable answer: %s', {CSI_CLEAR + 'stderr of phone' + OSC_TITLE!r})\n"
        "try:\n"
        f"    raise ValueError({OSC_TITLE + 'in a traceback'!r})\n"
        "except ValueError:\n"
        "    logging.getLogger('toolkit.worker').exception('%s: failed', 'a.apk')\n"
    )
    rc, err = _run(code, tmp_path)
    assert rc == 0
    assert "\x1b" not in err and "\x07" not in err, repr(err)
    assert "\\x1b[2Jstderr of phone\\x1b]0;PWNED\\x07" in err
    assert "\\x1b]0;PWNEDin a traceback" in err.replace("\\x07", "")


def test_formatter_at_its_own_level() -> None:
    record = logging.LogRecord("toolkit.t", logging.WARNING, __file__, 1, "%s: %s", (CSI_CLEAR + "a.apk", "bad"), None)
    line = safelog.SafeFormatter(safelog.FORMAT).format(record)
    assert line == "WARNING toolkit.t: \\x1b[2Ja.apk: bad"


def test_library_warnings_become_one_line_or_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    from cryptography.utils import CryptographyDeprecationWarning

    saved = (warnings.showwarning, logging.getLogger().handlers[:], logging.getLogger().level)
    try:
        safelog.install()
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = safelog._showwarning
            warnings.warn("DSA signatures are deprecated", CryptographyDeprecationWarning, stacklevel=1)
            warnings.warn(f"first line {OSC_TITLE}\nsecond line", UserWarning, stacklevel=1)
    finally:
        warnings.showwarning = saved[0]
        root = logging.getLogger()
        root.handlers[:] = saved[1]
        root.setLevel(saved[2])
    err = capsys.readouterr().err
    assert "DSA" not in err  # says nothing about the evidence
    lines = [line for line in err.splitlines() if "UserWarning" in line]
    assert lines == ["WARNING py.warnings: UserWarning: first line \\x1b]0;PWNED\\x07"]
    assert "second line" not in err


def test_worker_log_lines_are_escaped(tmp_path: Path) -> None:
    # A worker of the isolated pool logs a warning naming a hostile file; stderr is a file, not a terminal.
    apk = tmp_path / f"x{OSC_TITLE}{CSI_CLEAR}logline.apk"
    shutil.copy(REPO / "fixtures" / "apks" / "flashlight.apk", apk)
    code = (
        "from toolkit.batch.local import LocalPool\n"
        "from toolkit.batch.task import ApkTask\n"
        "from tests.batch.batch_support import hostile_task\n"
        "if __name__ == '__main__':\n"
        f"    out = list(LocalPool(1, None, 120, hostile_task).run([ApkTask(id='1', path={str(apk)!r})]))\n"
        "    assert out[0].report.status.value == 'analysed', out[0].report.reason\n"
    )
    script = tmp_path / "run_pool.py"
    script.write_text(code)
    err = tmp_path / "stderr.txt"
    with err.open("w") as fh:
        proc = subprocess.run([sys.executable, str(script)], stderr=fh, env=dict(os.environ, PYTHONPATH=str(REPO)),
                              cwd=REPO, timeout=300)
    text = err.read_text(errors="replace")
    assert proc.returncode == 0, text
    assert "odd entry" in text and "\\x1b]0;PWNED\\x07" in text
    assert "\x1b" not in text and "set_title" not in text
