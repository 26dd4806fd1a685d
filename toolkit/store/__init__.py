"""Preloaded app stores and tampered apps: signer checks and pinning, reference comparison, tracker/SDK detection
and endpoint-to-flow linking. Entry point: `run_store_check(paths, options) -> ScanResult`."""

from toolkit.store.check import StoreCheckOptions, collect_store_inputs, link_endpoints, run_store_check
from toolkit.store.data import StoreDataError

__all__ = ["StoreCheckOptions", "StoreDataError", "collect_store_inputs", "link_endpoints", "run_store_check"]
