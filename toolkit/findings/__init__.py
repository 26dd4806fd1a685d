"""Post-analysis steps on a ScanResult: indicator (IOC) matching and baseline suppression.

Both return a new ScanResult and run before any reporter, so every format shows the same facts.
"""

from toolkit.findings.baseline import (
    BaselineError,
    apply_baseline,
    create_baseline,
    load_baseline,
    write_baseline,
)
from toolkit.findings.indicators import (
    IOC_RULE,
    IndicatorFileError,
    IndicatorSet,
    apply_indicators,
    expand_indicator_paths,
    load_indicator_file,
    load_indicator_files,
)

__all__ = [
    "IOC_RULE", "BaselineError", "IndicatorFileError", "IndicatorSet", "apply_baseline", "apply_indicators",
    "create_baseline", "expand_indicator_paths", "load_baseline", "load_indicator_file", "load_indicator_files", "write_baseline",
]
