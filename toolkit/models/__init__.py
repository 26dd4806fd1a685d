"""Pydantic models: the contract between layers and the JSON output."""

from toolkit.models.apk import ApkMetadata, Certificate, Component, IntentFilter
from toolkit.models.common import Confidence, PhModel, Severity, Status
from toolkit.models.device import DeviceIdentity, DeviceInventory
from toolkit.models.finding import Finding, RuleInfo
from toolkit.models.firmware import FirmwareInfo
from toolkit.models.flow import CodeLocation, Endpoint, Flow, FlowPoint, Trigger
from toolkit.models.scan import (
    AnalysisLimit,
    AnalysisStats,
    ApkInput,
    ApkReport,
    InputError,
    Provenance,
    ScanResult,
    Target,
    ToolInfo,
)
from toolkit.models.usage import UsageRecords  # completes DeviceInventory.usage

__all__ = [
    "AnalysisLimit", "AnalysisStats", "ApkInput", "ApkMetadata", "ApkReport", "Certificate", "CodeLocation", "Component",
    "Confidence", "DeviceIdentity", "DeviceInventory", "Endpoint", "Finding", "FirmwareInfo", "Flow", "FlowPoint",
    "InputError", "IntentFilter", "PhModel", "Provenance", "RuleInfo", "ScanResult", "Severity", "Status", "Target",
    "ToolInfo", "Trigger", "UsageRecords",
]
