"""Facts the phone itself shows beside the APK analysis: live sockets, repeating alarms and jobs, opt-in settings,
updated system apps. Plain sentences for every front end (terminal, demo); the report carries the inventory itself.
"""

from __future__ import annotations

from toolkit.models import DeviceInventory


def device_facts(inv: DeviceInventory | None) -> list[str]:
    """One sentence per noteworthy fact of the inventory, in a stable order."""
    if inv is None:
        return []
    facts = []
    for s in inv.sockets:
        # A connection that is up at acquisition is what the phone was doing then, not what an app could do.
        if s.is_remote and s.state == "ESTABLISHED":
            owners = ", ".join(s.packages) or f"uid {s.uid}"
            country = f", address registered in {s.remote_country}" if s.remote_country else ""
            facts.append(f"live {s.protocol} connection {s.local_address}:{s.local_port} -> "
                         f"{s.remote_address}:{s.remote_port} owned by {owners} (uid {s.uid}){country}")
    for a in inv.alarms:
        if a.interval_seconds:
            facts.append(f"alarm of {a.package} repeats every {a.interval_seconds:g} s ({a.type}, {a.tag or ''})")
    for j in inv.jobs:
        if j.periodic and j.interval_seconds:
            facts.append(f"job {j.service} runs every {j.interval_seconds:g} s")
    for st in inv.settings:
        # Vendors gate collection behind "opt-in" settings that are on by default: show their value.
        if "optin" in st.key.lower() or "opt_in" in st.key.lower():
            facts.append(f"setting {st.namespace} {st.key}={st.value}")
    for p in inv.packages:
        # An updated system app runs the /data copy: the factory copy in /system may behave differently.
        if p.is_updated_system:
            facts.append(f"{p.name} is an updated system app: factory copy in {p.factory_code_path}, "
                         f"update in {', '.join(p.apk_paths)}")
    return facts
