"""Inventory parsers: raw phone outputs (getprop, pm, dumpsys, settings, ps, /proc/net) → typed models.

Reused by every source: a live phone, an evidence folder re-scan and a firmware image's build.prop.
"""
