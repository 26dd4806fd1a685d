"""Capture-reading throughput and memory of `traffic scan` (toolkit/traffic/scan.py), target >= 100 MB/s.

    python bench/traffic_read.py                 # a 200 MB pcap, then the scan
    python bench/traffic_read.py --size-mb 1024  # 1 GB: memory must stay flat (compare peak RSS with 200 MB)
    python bench/traffic_read.py --identifiers 7 # search all seven kinds (85 needles) instead of the IMEI alone

The capture (bench/cache/traffic/bench-<N>MB.pcap, written once) is made of TCP sessions to 64 destinations:
7 in 10 are TLS (ClientHello with SNI and a request up, a 22 KB download down), 3 in 10 plain TCP uploads of
11 KB of random bytes (searched for identifiers, entropy judged) with a small answer; once per 64 sessions a DNS
exchange and an HTTP POST carrying the IMEI. Every session has its own client port, so the connection table grows like a real
capture's. Each scan runs in a fresh process, --runs times (the best is kept: the machine may be shared); wall and
CPU time, MB/s for both, peak RSS (ru_maxrss) and the load average are printed. CPU-time MB/s is what one core
gives when the scan has it to itself; wall-time MB/s is what the examiner waited.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CACHE = ROOT / "bench" / "cache" / "traffic"
IMEI = "358240051111110"
IDENTIFIERS = [("imei", IMEI), ("imsi", "262011234567890"), ("iccid", "8949011234567890123"),
               ("phone_number", "+4915112345678"), ("android_id", "9774d56d682e549c"), ("serial", "R58M12ABCDE"),
               ("wifi_mac", "a4:50:46:0b:7c:12")]


def make_capture(path: Path, size_mb: int) -> None:
    import dpkt

    from toolkit.traffic.writer import CaptureBuilder, client_hello

    rnd = random.Random(16)
    templates = []
    for i in range(64):
        b = CaptureBuilder()
        if i == 0:
            b.dns(0.0, "push.vendor-cloud.example", ["47.88.10.21"])
            b.tcp_session(0.1, "47.88.10.21", 80, b"POST /r HTTP/1.1\r\nHost: push.vendor-cloud.example\r\n\r\n"
                          b"imei=" + IMEI.encode())
        dst = f"198.51.{100 + i // 32}.{i % 32 + 1}"
        if i % 10 < 7:  # TLS: a ClientHello and a request up, a download down
            b.tcp_session(0.2, dst, 443, client_hello(f"h{i}.example") + rnd.randbytes(600),
                          b"\x17\x03\x03" + rnd.randbytes(1400 * 16))
        else:  # plain TCP / HTTP: an upload of random bytes, searched for identifiers
            b.tcp_session(0.2, dst, 8080, rnd.randbytes(1400 * 8), b"HTTP/1.1 200 OK\r\n\r\n" + rnd.randbytes(2800))
        templates.append(sorted(b.frames, key=lambda f: f[0]))
    target = size_mb * 1_000_000
    t = 1600583400.0
    session = 0
    with path.open("wb") as f:
        w = dpkt.pcap.Writer(f, snaplen=65535)
        while f.tell() < target:
            frames = templates[session % 64]
            port = (1024 + session % 60000).to_bytes(2, "big")
            for ts, frame in frames:
                out = frame[:14 + 20] + port + frame[36:] if frame[23] == 6 and frame[6:12] != frame[0:6] and \
                    frame[0:6] != b"\xa4\x50\x46\x0b\x7c\x12" else frame
                w.writepkt(out, ts=t + ts)
            t += 0.5
            session += 1


def scan_once(path: Path, identifiers: int) -> dict[str, float]:
    idents = IDENTIFIERS[:identifiers]
    code = (
        "import json,resource,sys,time\n"
        "from pathlib import Path\n"
        "from toolkit.models.usage import DeviceIdentifier\n"
        "from toolkit.traffic.scan import scan_capture\n"
        f"ids=[DeviceIdentifier(kind=k, value=v, source='bench') for k, v in {idents!r}]\n"
        "t=time.perf_counter(); c=time.process_time()\n"
        f"r=scan_capture(Path({str(path)!r}), ids, max_seconds=None)\n"
        "dt=time.perf_counter()-t; dc=time.process_time()-c\n"
        "print(json.dumps({'seconds': dt, 'cpu': dc, 'packets': r.capture.packets, 'bytes': r.capture.bytes_read,"
        " 'matches': len(r.identifier_matches), 'destinations': len(r.destinations),"
        " 'rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024}))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--identifiers", type=int, default=1, choices=range(1, len(IDENTIFIERS) + 1),
                        help="how many identifier kinds to search (1: the IMEI; 7: all kinds)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"bench-{args.size_mb}MB.pcap"
    if not path.exists():
        started = time.perf_counter()
        make_capture(path, args.size_mb)
        print(f"wrote {path} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    sum(range(10**7))  # calibration: ~0.15 s on an idle modern core; compare figures across machines with it
    calib = time.perf_counter() - started
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else ["?"] * 3
    runs = [scan_once(path, args.identifiers) for _ in range(args.runs)]
    r = min(runs, key=lambda x: x["seconds"])
    cpu = min(x["cpu"] for x in runs)
    rss = max(x["rss_mb"] for x in runs)
    mb = r["bytes"] / 1e6
    print(f"{path.name}, {args.identifiers} identifier kind(s): {r['packets']:.0f} packets, {mb:.0f} MB; best of "
          f"{args.runs}: {r['seconds']:.2f} s wall = {mb / r['seconds']:.0f} MB/s, {cpu:.2f} s CPU = "
          f"{mb / cpu:.0f} MB/s; peak RSS {rss:.0f} MB; {r['destinations']:.0f} destinations, "
          f"{r['matches']:.0f} identifier match(es); load average {' '.join(load)} before, "
          f"{' '.join(Path('/proc/loadavg').read_text().split()[:3]) if Path('/proc/loadavg').exists() else '?'} "
          f"after; calibration sum(range(1e7)) took {calib:.2f} s on this machine now")


if __name__ == "__main__":
    main()
