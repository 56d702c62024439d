"""Shared pieces of the hostile-input tests: a counter of property-based cases (printed at the
end of the run), helpers that build files byte by byte, and a child-process memory probe."""
from __future__ import annotations

import json
import struct
import subprocess
import sys
import zlib
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FUZZ_CASES: Counter = Counter()


@pytest.fixture(scope="session")
def fuzz_cases() -> Counter:
    return FUZZ_CASES


def pytest_terminal_summary(terminalreporter) -> None:
    cases = {k: v for k, v in FUZZ_CASES.items() if not k.endswith(" ok")}
    if cases:
        parts = ", ".join(f"{k} {v} ({FUZZ_CASES[k + ' ok']} accepted)" for k, v in sorted(cases.items()))
        terminalreporter.write_line(f"hypothesis cases: {sum(cases.values())}: {parts}; "
                                    "every other case raised an S3DError (any other exception fails its test)")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG claiming width x height (8-bit gray) whose image data is one empty deflate stream:
    the header is all a reader may look at before refusing the size; decoding it would fail."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"")) + _chunk(b"IEND", b"")


def peak_rss_mb(code: str, timeout: float = 120.0) -> tuple[float, dict]:
    """Run `code` in a fresh interpreter (the repository first on sys.path); it may set a dict
    `result`. Returns (peak resident memory of the child in MB, result)."""
    # VmHWM is the peak of this process image; ru_maxrss would carry over the parent's peak
    # (the pytest process, with torch loaded) through fork and exec.
    program = (
        "import json, resource, sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "result = {}\n"
        f"{code}\n"
        "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "for line in open('/proc/self/status'):\n"
        "    if line.startswith('VmHWM:'):\n"
        "        peak = int(line.split()[1])\n"
        "print(json.dumps({'peak_kb': peak, 'result': result}))\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return report["peak_kb"] / 1024.0, report["result"]
