"""What was found inside a firmware file. Extended by the firmware source (toolkit/acquisition/firmware)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from toolkit.models.common import PhModel
from toolkit.models.device import DeviceIdentity

CodeStatus = Literal["present", "recovered_vdex", "recovered_oat", "recovered_odex", "not_recoverable", "none"]
RecoveryState = Literal["verbatim", "restored", "approximated"]


class ContainerInfo(PhModel):
    """One container opened on the way (zip, sparse, super, payload, ext4 ...)."""

    chain: list[str] = Field(description="Containers from outside in, ending with this one")
    kind: str = Field(description="zip, apk, apex, tar, tar.md5, gzip, lz4, sparse, super, payload, transfer_list, ext4, erofs ...")
    size: int | None = None
    detail: str | None = Field(None, description="Format details: versions, features, verified hashes")


class PartitionInfo(PhModel):
    """One file system that was extracted."""

    name: str = Field(description="Partition name as found (system_a, vendor, com.android.foo ...)")
    chain: list[str]
    fs: Literal["ext4", "erofs"]
    output: str = Field(description="Directory holding its files, relative to the output directory")
    files: int = 0
    bytes: int = 0
    symlinks: int = 0
    special_files: int = 0
    detail: str | None = None


class SymlinkInfo(PhModel):
    """A symbolic link found in an image: recorded, never created or followed."""

    chain: list[str]
    target: str


class RecoveredDex(PhModel):
    """One DEX file recovered from an optimized file."""

    name: str = Field(description="classes.dex, classes2.dex ... in the rebuilt APK")
    location: str | None = Field(None, description="The DEX location the optimizer recorded (e.g. /system/app/X/X.apk)")
    sha256: str = Field(description="SHA-256 of the DEX put in the rebuilt APK")
    stored_sha256: str = Field(description="SHA-256 of the DEX exactly as stored in the optimized file")
    size: int
    state: RecoveryState = Field(description="verbatim: stored as is; restored: quickened instructions undone "
                                             "exactly; approximated: some could not be undone (see detail)")
    crc_matches: bool | None = Field(None, description="CRC32 equals the one the optimizer recorded for the "
                                                       "original classes.dex (byte-identical proof)")
    detail: str | None = None


class RecoveredCode(PhModel):
    """Where stripped code was recovered from, with hashes for the provenance chain."""

    path: str = Field(description="The optimized file (vdex, oat .odex, Dalvik .odex), relative to the output")
    device_path: str | None = None
    sha256: str
    format: str = Field(description="e.g. 'vdex 027', 'oat 088', 'dalvik odex 036'")
    dex: list[RecoveredDex] = Field(default_factory=list)


class FirmwareApk(PhModel):
    """One preinstalled APK found in the firmware."""

    path: str = Field(description="The extracted APK, relative to the output directory")
    analysis_path: str = Field(description="What the analysis reads: the APK, or a rebuilt copy with recovered DEX")
    sha256: str
    size: int
    chain: list[str]
    partition: str | None = None
    device_path: str | None = Field(None, description="Where it lives on the phone, e.g. /system/priv-app/Foo/Foo.apk")
    privileged: bool = False
    code: CodeStatus = "present"
    code_note: str | None = Field(None, description="Why the code is missing, or where it was recovered from")
    recovered: RecoveredCode | None = None
    code_approximated: str | None = Field(None, description="Why recovered code is only approximate (partial)")
    unit: Literal["app", "framework_jar"] = Field("app", description="framework_jar: a jar of */framework/ whose "
                                                  "code is analysed in a wrapper with a minimal manifest")


class BuildPropFile(PhModel):
    """A build.prop (or default.prop / prop.default) found in the firmware."""

    path: str = Field(description="Relative to the output directory")
    chain: list[str]
    partition: str | None = None
    properties: int = 0


class FirmwareIssue(PhModel):
    """Something that could not be read, and why. Nothing is dropped silently."""

    chain: list[str]
    reason: str


class InputFile(PhModel):
    """One file the firmware was read from, hashed before it was read (forensic record of the evidence)."""

    path: str = Field(description="As given (a file named on the command line), or relative to the folder given")
    sha256: str
    size: int


class FirmwareInfo(PhModel):
    """Summary of a firmware file's unpacking."""

    file: str = Field(description="The firmware file or folder; several files given together are listed "
                                  "comma-separated (each one is in `inputs`)")
    sha256: str = Field(description="SHA-256 of the firmware file; for a folder or several files, of their "
                                    "`sha256sum`-style list (one '<sha256>  <path>' line per input, in order)")
    inputs: list[InputFile] = Field(default_factory=list, description="Every input file, with its SHA-256")
    partitions: list[str] = Field(default_factory=list)
    tool: str | None = Field(None, description="phonehome version that unpacked it")
    extracted_at: datetime | None = None
    external_tools: list[str] = Field(default_factory=list, description="Outside programs used, with versions")
    size: int | None = None
    kind: str | None = Field(None, description="Outermost format detected by magic; 'dir' for a folder, "
                                            "'files' for several files given as one firmware")
    output_dir: str | None = Field(None, description="Where the files were extracted (None once a temporary dir is removed)")
    containers: list[ContainerInfo] = Field(default_factory=list)
    partition_details: list[PartitionInfo] = Field(default_factory=list)
    apks: list[FirmwareApk] = Field(default_factory=list)
    framework: list[FirmwareApk] = Field(default_factory=list, description="Framework jars scanned as units "
                                         "(services.jar, framework.jar, OEM jars): not packages of the phone")
    build_props: list[BuildPropFile] = Field(default_factory=list)
    properties: dict[str, str] = Field(default_factory=dict, description="Merged build properties (first definition wins, as on the phone)")
    identity: DeviceIdentity | None = None
    symlinks: list[SymlinkInfo] = Field(default_factory=list)
    issues: list[FirmwareIssue] = Field(default_factory=list)
    bytes_written: int = 0
    peak_bytes: int = 0
    skipped_files: int = Field(0, description="Files not written because an APK scan does not read them "
                                              "(firmware scan writes APKs, images, archives and build.prop only)")
