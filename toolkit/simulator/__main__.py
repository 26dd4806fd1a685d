"""`python -m toolkit.simulator --profile demo --port 5555`: run the simulated handset for manual testing."""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import threading

from toolkit.simulator import DeviceSimulator, Faults


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m toolkit.simulator", description=__doc__)
    ap.add_argument("--profile", default="demo", help="built-in profile name or profile directory")
    ap.add_argument("--port", type=int, default=5555)
    ap.add_argument("--auth", choices=["open", "trusted", "prompt", "never"], default="prompt")
    ap.add_argument("--trust", action="append", default=[], help="adbkey.pub file to trust (repeatable)")
    ap.add_argument("--drop-after-bytes", type=int, default=None)
    ap.add_argument("--drop-times", type=int, default=1, help="how many connections --drop-after-bytes cuts")
    ap.add_argument("--stall-seconds", type=float, default=0.0, help="stall the first pull this long")
    ap.add_argument("--auth-delay", type=float, default=0.0, help="prompt mode: seconds before the user taps Allow")
    ap.add_argument("--offline", action="store_true", help="accept connections but never answer")
    ap.add_argument("--deny", action="append", default=[], help="device path answering Permission denied")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")
    faults = Faults(drop_after_bytes=args.drop_after_bytes, drop_times=args.drop_times,
                    stall_seconds=args.stall_seconds, auth_delay_seconds=args.auth_delay, offline=args.offline,
                    denied_paths=args.deny)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with DeviceSimulator(args.profile, auth=args.auth, trusted_keys=args.trust, faults=faults, port=args.port) as sim:
        print(f"simulated {sim.profile.prop('ro.product.model')} listening on {sim.serial} (auth={args.auth}); "
              f"try: adb connect {sim.serial}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            done.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
