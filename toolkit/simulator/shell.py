"""The simulated phone's shell: a few toybox/mksh commands answered from the profile.

Commands that are not modelled answer as mksh does for a missing program (exit 127), so a client sees
the same thing it would on a phone that lacks the tool.
"""

from __future__ import annotations

import hashlib
import shlex
import stat
from dataclasses import dataclass

from toolkit.simulator import render, usage_render
from toolkit.simulator.profile import DeviceProfile

SH = "/system/bin/sh"


@dataclass
class ShellResult:
    stdout: bytes
    stderr: bytes = b""
    exit_code: int = 0
    combined: bytes | None = None  # stdout and stderr in the order they were written (sequences)

    @property
    def merged(self) -> bytes:
        """What a client sees on one stream (shell v1, pty)."""
        return self.combined if self.combined is not None else self.stdout + self.stderr


def _ok(text: str) -> ShellResult:
    return ShellResult(text.encode())


def _err(text: str, code: int = 1) -> ShellResult:
    return ShellResult(b"", text.encode(), code)


class Shell:
    """Runs one command line against a profile. `denied` paths answer "Permission denied"."""

    def __init__(self, profile: DeviceProfile, denied: set[str]) -> None:
        self.profile = profile
        self.denied = denied

    def run(self, line: str) -> ShellResult:
        """Run a command line; `a; b` sequences and `$?` are understood (adb clients append `; echo ..$?`)."""
        if ";" in line and "'" not in line and '"' not in line:
            out, err, both, code = b"", b"", b"", 0
            for part in line.split(";"):
                if part.strip():
                    r = self.run_one(part.replace("$?", str(code)).strip())
                    out, err, both, code = out + r.stdout, err + r.stderr, both + r.merged, r.exit_code
            return ShellResult(out, err, code, both)
        return self.run_one(line)

    def run_one(self, line: str) -> ShellResult:
        captured = self.profile.captured(line)
        if captured is not None:
            return ShellResult(*captured)
        try:
            argv = shlex.split(line)
        except ValueError as e:
            return _err(f"{SH}: syntax error: {e}\n", 1)
        # Drop stderr redirections clients commonly add; nothing else of the shell language is modelled.
        argv = [a for a in argv if a not in ("2>/dev/null", "2>&1")]
        if not argv:
            return ShellResult(b"")
        cmd, args = argv[0], argv[1:]
        if cmd.startswith("/system/bin/") or cmd.startswith("/system/xbin/"):
            cmd = cmd.rsplit("/", 1)[1]
        handler = getattr(self, "_cmd_" + cmd.replace("-", "_"), None)
        if handler is None:
            return _err(f"{SH}: {argv[0]}: inaccessible or not found\n", 127)
        result: ShellResult = handler(args)
        return result

    # -- identity --------------------------------------------------------------------------------------
    def _cmd_getprop(self, args: list[str]) -> ShellResult:
        return _ok(render.getprop(self.profile, args[0] if args else None))

    def _cmd_getenforce(self, args: list[str]) -> ShellResult:
        return _ok(self.profile.spec.selinux + "\n")

    def _cmd_id(self, args: list[str]) -> ShellResult:
        return _ok("uid=2000(shell) gid=2000(shell) groups=2000(shell),1004(input),1007(log),1011(adb),"
                   "1015(sdcard_rw),1028(sdcard_r),3001(net_bt_admin),3002(net_bt),3003(inet),3006(net_bw_stats),"
                   "3009(readproc),3011(uhid) context=u:r:shell:s0\n")

    def _cmd_echo(self, args: list[str]) -> ShellResult:
        return _ok(" ".join(args) + "\n")

    def _cmd_true(self, args: list[str]) -> ShellResult:
        return ShellResult(b"")

    def _cmd_false(self, args: list[str]) -> ShellResult:
        return ShellResult(b"", b"", 1)

    # -- package manager -------------------------------------------------------------------------------
    def _cmd_pm(self, args: list[str]) -> ShellResult:
        if args[:2] == ["list", "packages"]:
            quirks = self.profile.spec.quirks
            if "no_show_versioncode" in quirks and "--show-versioncode" in args:
                return _err("Error: Unknown option: --show-versioncode\n", 1)
            if "pm_list_needs_user" in quirks and "--user" not in args:
                return ShellResult(b"")  # some vendor builds list nothing for the shell user without --user
            return _ok(render.pm_list_packages(self.profile, args[2:]))
        if args[:2] == ["list", "users"]:
            return _ok(render.pm_list_users(self.profile))
        if args[:1] == ["path"] and len(args) > 1:
            out = render.pm_path(self.profile, args[-1])
            return _ok(out) if out else ShellResult(b"", b"", 1)
        if args and args[0] in ("install", "uninstall", "clear", "disable", "enable", "grant", "revoke",
                                "disable-user", "hide", "unhide", "suspend", "set-installer"):
            # The simulator refuses state changes; acquisition must never send them anyway.
            return _err(f"Error: simulator refuses to change the device ({args[0]})\n", 1)
        return _err("Error: unknown or unsupported pm command\n", 1)

    def _cmd_cmd(self, args: list[str]) -> ShellResult:
        if args[:1] == ["package"]:
            return self._cmd_pm(args[1:])
        if args[:1] == ["settings"]:
            return self._cmd_settings(args[1:])
        if args[:2] == ["role", "get-role-holders"] and len(args) >= 3:
            holders = usage_render.role_holders(self.profile, args[-1])
            return _ok(holders) if holders is not None else _err("Can't find service: role\n", 20)
        return _err(f"Can't find service: {args[0] if args else ''}\n", 20)

    def _cmd_dumpsys(self, args: list[str]) -> ShellResult:
        if not args:
            return _err("dumpsys without a service is not modelled by the simulator\n", 1)
        service, rest = args[0], args[1:]
        if service == "package":
            return _ok(render.dumpsys_package(self.profile, rest[0] if rest else None))
        if service == "alarm":
            return _ok(render.dumpsys_alarm(self.profile))
        if service == "jobscheduler":
            return _ok(render.dumpsys_jobscheduler(self.profile))
        usage = {"appops": usage_render.dumpsys_appops, "netstats": usage_render.dumpsys_netstats,
                 "usagestats": usage_render.dumpsys_usagestats, "batterystats": usage_render.dumpsys_batterystats,
                 "accessibility": usage_render.dumpsys_accessibility,
                 "device_policy": usage_render.dumpsys_device_policy,
                 "iphonesubinfo": usage_render.dumpsys_iphonesubinfo}
        if service in usage:
            return _ok(usage[service](self.profile))
        if service == "activity" and rest[:1] == ["services"]:
            return _ok(usage_render.dumpsys_activity_services(self.profile))
        return _err(f"Can't find service: {service}\n", 0)

    def _cmd_settings(self, args: list[str]) -> ShellResult:
        if len(args) >= 2 and args[0] == "list" and args[1] in ("system", "secure", "global"):
            return _ok(render.settings_list(self.profile, args[1]))
        if len(args) >= 3 and args[0] == "get" and args[1] in ("system", "secure", "global"):
            return _ok(self.profile.settings(args[1]).get(args[2], "null") + "\n")
        if args and args[0] in ("put", "delete", "reset"):
            return _err("simulator refuses to change settings\n", 1)
        return _err("Invalid command: " + " ".join(args) + "\n", 255)

    def _cmd_logcat(self, args: list[str]) -> ShellResult:
        if "-d" not in args and "-t" not in args:
            return _err("simulator: only dumps (-d / -t) are modelled\n", 1)
        if "-c" in args or "-G" in args:
            return _err("simulator refuses to clear or resize the log\n", 1)
        count = int(args[args.index("-t") + 1]) if "-t" in args and args.index("-t") + 1 < len(args) and \
            args[args.index("-t") + 1].isdigit() else None
        return _ok(usage_render.logcat(self.profile, count))

    def _cmd_ps(self, args: list[str]) -> ShellResult:
        columns = None
        if "-o" in args and "ps_no_columns" in self.profile.spec.quirks:
            return _err("bad -o\n", 1)  # old toolbox ps: no column selection
        if "-o" in args:
            i = args.index("-o")
            if i + 1 < len(args):
                columns = [c.upper() for c in args[i + 1].split(",")]
                unknown = [c for c in columns if c not in ("USER", "PID", "PPID", "NAME", "VSZ", "RSS", "S")]
                if unknown:
                    return _err(f"ps: bad -o {unknown[0]}\n", 1)
        return _ok(render.ps(self.profile, columns))

    # -- files -----------------------------------------------------------------------------------------
    def _denied(self, path: str) -> bool:
        return any(path == d or path.startswith(d.rstrip("/") + "/") for d in self.denied)

    def _read(self, path: str, tool: str) -> tuple[bytes | None, ShellResult | None]:
        if path.startswith("/proc/net/") and path.rsplit("/", 1)[1] in ("tcp", "tcp6", "udp", "udp6"):
            return render.proc_net(self.profile, path.rsplit("/", 1)[1]).encode(), None
        if self._denied(path):
            return None, _err(f"{tool}: {path}: Permission denied\n", 1)
        f = self.profile.files.get(path)
        if f is None:
            if path in self.profile.dirs:
                return None, _err(f"{tool}: {path}: Is a directory\n", 1)
            return None, _err(f"{tool}: {path}: No such file or directory\n", 1)
        return f.read(), None

    def _cmd_cat(self, args: list[str]) -> ShellResult:
        out = b""
        err = b""
        code = 0
        for path in args:
            data, fail = self._read(path, "cat")
            if fail is not None:
                err += fail.stderr
                code = 1
            else:
                out += data or b""
        return ShellResult(out, err, code)

    def _cmd_sha256sum(self, args: list[str]) -> ShellResult:
        out, err, code = "", "", 0
        for path in args:
            data, fail = self._read(path, "sha256sum")
            if fail is not None:
                err += fail.stderr.decode()
                code = 1
            else:
                out += f"{hashlib.sha256(data or b'').hexdigest()}  {path}\n"
        return ShellResult(out.encode(), err.encode(), code)

    def _cmd_ls(self, args: list[str]) -> ShellResult:
        paths = [a for a in args if not a.startswith("-")] or ["/"]
        out, err, code = "", "", 0
        for path in paths:
            if self._denied(path):
                err += f"ls: {path}: Permission denied\n"
                code = 1
            elif path in self.profile.files:
                out += path + "\n"
            elif path in self.profile.dirs:
                out += "".join(n + "\n" for n in self.profile.listdir(path))
            else:
                err += f"ls: {path}: No such file or directory\n"
                code = 1
        return ShellResult(out.encode(), err.encode(), code)

    def _cmd_stat(self, args: list[str]) -> ShellResult:
        fmt = None
        if "-c" in args:
            i = args.index("-c")
            fmt = args[i + 1] if i + 1 < len(args) else None
            args = args[:i] + args[i + 2:]
        out, err, code = "", "", 0
        for path in args:
            f = self.profile.files.get(path)
            if f is None:
                err += f"stat: '{path}': No such file or directory\n"
                code = 1
                continue
            if fmt == "%s":
                out += f"{f.size()}\n"
            else:
                out += f"  File: {path}\n  Size: {f.size()}\t Blocks: 0\t IO Block: 4096\t regular file\n" \
                       f"Access: ({stat.S_IMODE(f.mode):04o}/-rw-r--r--)  Uid: (    0/    root)  Gid: (    0/    root)\n"
        return ShellResult(out.encode(), err.encode(), code)
