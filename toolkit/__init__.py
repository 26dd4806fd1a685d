"""phonehome: Android forensics for data that phones home."""

__version__ = "0.1.0"
