"""A tiny Dalvik boot class path in smali (the framework classes the imei_sms_binary fixture uses), and a
quickener that uses the vtables baksmali computes from it: a Dalvik .odex quickened as dexopt would do."""

from __future__ import annotations

import re
import subprocess
from array import array
from pathlib import Path

BOOT_SMALI = {
    "android/app/Activity.smali": """.class public Landroid/app/Activity;
.super Landroid/content/Context;
.field private mTitle:Ljava/lang/CharSequence;
.method public constructor <init>()V
    .registers 1
    invoke-direct {p0}, Landroid/content/Context;-><init>()V
    return-void
.end method
.method public native getSystemService(Ljava/lang/String;)Ljava/lang/Object;
.end method
.method protected native onCreate(Landroid/os/Bundle;)V
.end method
.method public native setContentView(Landroid/view/View;)V
.end method
""",
    "android/app/PendingIntent.smali": """.class public final Landroid/app/PendingIntent;
.super Ljava/lang/Object;
""",
    "android/content/Context.smali": """.class public abstract Landroid/content/Context;
.super Ljava/lang/Object;
.method public constructor <init>()V
    .registers 1
    invoke-direct {p0}, Ljava/lang/Object;-><init>()V
    return-void
.end method
.method public abstract getSystemService(Ljava/lang/String;)Ljava/lang/Object;
.end method
""",
    "android/os/Bundle.smali": """.class public final Landroid/os/Bundle;
.super Ljava/lang/Object;
""",
    "android/telephony/SmsManager.smali": """.class public final Landroid/telephony/SmsManager;
.super Ljava/lang/Object;
.method public static native getDefault()Landroid/telephony/SmsManager;
.end method
.method public native divideMessage(Ljava/lang/String;)Ljava/util/ArrayList;
.end method
.method public native sendDataMessage(Ljava/lang/String;Ljava/lang/String;S[BLandroid/app/PendingIntent;Landroid/app/PendingIntent;)V
.end method
.method public native sendMultipartTextMessage(Ljava/lang/String;Ljava/lang/String;Ljava/util/ArrayList;Ljava/util/ArrayList;Ljava/util/ArrayList;)V
.end method
.method public native sendTextMessage(Ljava/lang/String;Ljava/lang/String;Ljava/lang/String;Landroid/app/PendingIntent;Landroid/app/PendingIntent;)V
.end method
""",
    "android/telephony/TelephonyManager.smali": """.class public Landroid/telephony/TelephonyManager;
.super Ljava/lang/Object;
.method public native getDeviceId()Ljava/lang/String;
.end method
.method public native getImei(I)Ljava/lang/String;
.end method
.method public native getMeid()Ljava/lang/String;
.end method
""",
    "android/view/View.smali": """.class public Landroid/view/View;
.super Ljava/lang/Object;
.method public constructor <init>(Landroid/content/Context;)V
    .registers 2
    invoke-direct {p0}, Ljava/lang/Object;-><init>()V
    return-void
.end method
""",
    "android/widget/TextView.smali": """.class public Landroid/widget/TextView;
.super Landroid/view/View;
.method public constructor <init>(Landroid/content/Context;)V
    .registers 2
    invoke-direct {p0, p1}, Landroid/view/View;-><init>(Landroid/content/Context;)V
    return-void
.end method
.method public native setText(Ljava/lang/CharSequence;)V
.end method
""",
    "java/lang/CharSequence.smali": """.class public interface abstract Ljava/lang/CharSequence;
.super Ljava/lang/Object;
""",
    "java/lang/Object.smali": """.class public Ljava/lang/Object;
.method public constructor <init>()V
    .registers 1
    return-void
.end method
.method public native equals(Ljava/lang/Object;)Z
.end method
.method public native hashCode()I
.end method
.method public native toString()Ljava/lang/String;
.end method
""",
    "java/lang/String.smali": """.class public final Ljava/lang/String;
.super Ljava/lang/Object;
.implements Ljava/lang/CharSequence;
.method public native getBytes(Ljava/nio/charset/Charset;)[B
.end method
""",
    "java/lang/StringBuilder.smali": """.class public final Ljava/lang/StringBuilder;
.super Ljava/lang/Object;
.implements Ljava/lang/CharSequence;
.method public constructor <init>()V
    .registers 1
    invoke-direct {p0}, Ljava/lang/Object;-><init>()V
    return-void
.end method
.method public native append(Ljava/lang/String;)Ljava/lang/StringBuilder;
.end method
.method public native toString()Ljava/lang/String;
.end method
""",
    "java/nio/charset/Charset.smali": """.class public abstract Ljava/nio/charset/Charset;
.super Ljava/lang/Object;
.method public static native forName(Ljava/lang/String;)Ljava/nio/charset/Charset;
.end method
""",
    "java/util/ArrayList.smali": """.class public Ljava/util/ArrayList;
.super Ljava/lang/Object;
""",
}


def build_boot_dex(tmp: Path) -> bytes:
    """core.dex assembled by smali from BOOT_SMALI."""
    src = tmp / "boot_smali"
    for rel, text in BOOT_SMALI.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(text)
    out = tmp / "core.dex"
    subprocess.run(["smali", "assemble", "--api", "19", str(src), "-o", str(out)], check=True, capture_output=True,
                   timeout=300)
    return out.read_bytes()


def vtables(boot_dex: Path) -> dict[str, list[str]]:
    """class -> its vtable (method name + proto), as baksmali computes it (Dalvik's layout rules)."""
    text = subprocess.run(["baksmali", "list", "vtables", "-b", "", str(boot_dex)], capture_output=True, text=True,
                          check=True, timeout=300).stdout
    vt: dict[str, list[str]] = {}
    cur = None
    for line in text.splitlines():
        m = re.match(r"Class (\S+) extends", line)
        if m:
            cur = m.group(1)
            vt[cur] = []
            continue
        m = re.match(r"(\d+):(\S+?)->(.+)$", line)
        if m and cur:
            vt[cur].append(m.group(3))
    return vt


def quicken_dalvik(dex: bytes, vt: dict[str, list[str]], art: bool = False) -> tuple[bytes, int]:
    """invoke-virtual(/range) on boot classes -> invoke-virtual-quick(/range) with the vtable index, return-void ->
    return-void-barrier (as dexopt does for these; art: the Android 6 opcodes dex2oat uses, 0xe9/0xea/0x73).
    Returns the DEX and the number of calls quickened."""
    quick, quick_range, ret = (0xE9, 0xEA, 0x73) if art else (0xF8, 0xF9, 0xF1)
    from toolkit.acquisition.firmware.quicken import _walk, code_items
    from toolkit.analysis.dex import DexFile

    d = DexFile(dex)
    out = bytearray(dex)
    n = 0
    for item in code_items(dex):
        u = array("H", dex[item.insns_off : item.insns_off + 2 * item.insns_size])
        for pc, op, _q in list(_walk(u, {})):
            if op in (0x6E, 0x74):
                cls, name, proto = d.method_ref(u[pc + 1])
                if cls in vt and name + proto in vt[cls]:
                    u[pc] = (u[pc] & 0xFF00) | (quick if op == 0x6E else quick_range)
                    u[pc + 1] = vt[cls].index(name + proto)
                    n += 1
            elif op == 0x0E:
                u[pc] = (u[pc] & 0xFF00) | ret
        out[item.insns_off : item.insns_off + 2 * item.insns_size] = u.tobytes()
    return bytes(out), n
