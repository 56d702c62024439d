""""Install engine": a private virtual environment with torch and the S3D engine. No bpy.

Blender's own Python never receives torch (a multi-GB package in Blender's folder breaks on
every Blender update, and a crash in torch would take the scene with it). Instead:

1. `<base python> -m venv <folder>.partial`: the base is Blender's bundled interpreter (3.11 in
   Blender 4.2-5.0), so the engine's Python matches the version its wheels were made for;
2. `pip install <torch requirement>` with the index chosen for the device (below);
3. `pip install <the engine wheel shipped inside the add-on>`: numpy, scipy, scikit-image,
   trimesh, safetensors... come with it, and the wheel carries the face and cat weights;
4. a check that `import torch, s3d_engine` works and reports the version and device;
5. the `.partial` folder replaces the previous install in one rename; a manifest written last
   marks the install complete, so a cancelled or failed run never leaves a half-engine in use.

Where torch comes from (`torch_index`): pip's own settings always apply (a company mirror, a
`pip.conf`); on top of that, CPU on Linux and Windows adds PyTorch's CPU-only index (the default
Linux wheel bundles CUDA, ~10x larger), CUDA on Windows adds PyTorch's CUDA index (PyPI's
Windows wheel is CPU-only), and macOS (MPS) and CUDA on Linux use the default wheels. Offline,
`wheels_dir` replaces every index with a folder of wheels (`--no-index --find-links`).

Every command's output goes to a log file the user can open; pip's failures are turned into one
line that says what to do (`explain_failure`).
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from .client import worker_env

MANIFEST = "s3d_install.json"
PYTORCH_INDEX = "https://download.pytorch.org/whl"
CUDA_INDEX_TAG = "cu126"
DEVICES = ("cpu", "cuda", "mps")

# Download and disk sizes of a first install, from the wheels' sizes on PyPI and PyTorch's index
# for torch 2.x, Python 3.11 (torch dominates; numpy, scipy, scikit-image, pillow, trimesh and
# the engine with its weights add ~0.15 GB): (download GB, installed GB).
SIZE_ESTIMATE_GB = {
    ("linux", "cpu"): (0.35, 1.3), ("linux", "cuda"): (3.2, 6.0),
    ("windows", "cpu"): (0.4, 1.3), ("windows", "cuda"): (2.8, 5.5),
    ("darwin", "cpu"): (0.25, 0.8), ("darwin", "mps"): (0.25, 0.8),
}


def system() -> str:
    """'linux', 'windows' or 'darwin'."""
    return platform.system().lower()


def available_devices(nvidia: Optional[bool] = None) -> list[str]:
    """The device choices this machine offers: CPU always; CUDA where an NVIDIA driver is
    installed (nvidia-smi on PATH) outside macOS; MPS on Apple silicon."""
    out = ["cpu"]
    if system() == "darwin":
        if platform.machine() == "arm64":
            out.append("mps")
        return out
    if nvidia is None:
        nvidia = shutil.which("nvidia-smi") is not None
    if nvidia:
        out.append("cuda")
    return out


def size_estimate(device: str, os_name: Optional[str] = None) -> tuple[float, float]:
    """(download GB, installed GB) of a first install."""
    key = (os_name or system(), device)
    return SIZE_ESTIMATE_GB.get(key, SIZE_ESTIMATE_GB[("linux", "cuda" if device == "cuda" else "cpu")])


def torch_index_args(device: str, os_name: Optional[str] = None, use_pytorch_index: bool = True) -> list[str]:
    """pip arguments that pick the torch build for `device` (see the module docstring)."""
    if device not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, not {device!r}")
    os_name = os_name or system()
    if not use_pytorch_index or os_name == "darwin":
        return []
    if device == "cpu":
        return ["--extra-index-url", f"{PYTORCH_INDEX}/cpu"]
    if device == "cuda" and os_name == "windows":
        return ["--extra-index-url", f"{PYTORCH_INDEX}/{CUDA_INDEX_TAG}"]
    return []


def venv_python(folder: Path) -> Path:
    return folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def base_python(executable: str = sys.executable, base: Optional[str] = None) -> Optional[str]:
    """The interpreter that creates the venv: Blender's bundled Python (`sys.executable` in
    Blender 2.91+), or, where that is the Blender binary itself (some Linux packages), the
    base interpreter or a python3 on PATH of the same minor version."""
    candidates = [executable, base or getattr(sys, "_base_executable", ""),
                  shutil.which(f"python{sys.version_info[0]}.{sys.version_info[1]}") or "", shutil.which("python3") or ""]
    for c in candidates:
        if c and os.path.isfile(c) and "python" in os.path.basename(c).lower():
            return c
    return None


@dataclass(frozen=True)
class Step:
    label: str
    argv: tuple[str, ...]
    weight: float  # share of the progress bar


@dataclass(frozen=True)
class InstallPlan:
    """What "Install engine" will do; `steps()` lists the commands."""

    base_python: str
    folder: Path  # the finished venv lives here; work happens in <folder>.partial
    engine_wheel: Optional[Path]  # the wheel shipped in the add-on (None: "s3d-engine" from the index)
    device: str = "cpu"
    wheels_dir: Optional[Path] = None  # offline: only these wheels
    torch_requirement: str = "torch>=2.1"
    use_pytorch_index: bool = True
    os_name: str = field(default_factory=system)

    def __post_init__(self) -> None:
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {', '.join(DEVICES)}, not {self.device!r}")

    @property
    def partial(self) -> Path:
        return self.folder.with_name(self.folder.name + ".partial")

    def pip_index_args(self, torch: bool) -> list[str]:
        if self.wheels_dir is not None:
            return ["--no-index", "--find-links", str(self.wheels_dir)]
        return torch_index_args(self.device, self.os_name, self.use_pytorch_index) if torch else []

    def steps(self) -> list[Step]:
        py = str(venv_python(self.partial))
        pip = [py, "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off"]
        engine = str(self.engine_wheel) if self.engine_wheel else "s3d-engine"
        check = ("import json, torch, s3d_engine; print(json.dumps({'engine': s3d_engine.__version__, "
                 "'torch': torch.__version__, 'cuda': torch.cuda.is_available(), "
                 "'mps': bool(getattr(torch.backends, 'mps', None) and torch.backends.mps.is_available())}))")
        return [
            Step("Creating the engine's Python environment", (self.base_python, "-m", "venv", str(self.partial)), 0.05),
            Step("Installing torch (the large download)", tuple(pip + self.pip_index_args(True) + [self.torch_requirement]), 0.7),
            Step("Installing the S3D engine and its weights", tuple(pip + self.pip_index_args(False) + [engine]), 0.2),
            Step("Checking the engine", (py, "-c", check), 0.05),
        ]


def explain_failure(step: Step, returncode: int, output_tail: str, log_path: Path, plan: InstallPlan) -> str:
    """One line for a failed step: the cause when pip's output names it, and what to do."""
    text = output_tail.lower()
    where = f" Full log: {log_path}"
    if "no space left on device" in text or "errno 28" in text:
        need = size_estimate(plan.device, plan.os_name)[1]
        return f"The disk is full: the engine needs about {need:.1f} GB free in {plan.folder.parent}.{where}"
    offline_hint = ("the folder of wheels does not hold it (add torch and the engine's dependencies for "
                    f"Python {sys.version_info[0]}.{sys.version_info[1]})" if plan.wheels_dir is not None else
                    "no connection to the package index; connect to the internet, or choose "
                    "'Install from a folder of wheels' in the add-on preferences")
    network = ("failed to establish a new connection", "network is unreachable", "temporary failure in name resolution",
               "connection refused", "could not fetch url", "connectionerror", "read timed out",
               "could not find a version that satisfies", "no matching distribution found")
    if any(n in text for n in network):
        return f"{step.label} failed: {offline_hint}.{where}"
    if "no module named venv" in text or "ensurepip" in text:
        return (f"{step.label} failed: this Python ({plan.base_python}) cannot create virtual environments; "
                f"set 'Use an existing Python' instead.{where}")
    last = next((ln.strip() for ln in reversed(output_tail.splitlines()) if ln.strip()), "")
    return f"{step.label} failed (exit {returncode}): {last[:300]}.{where}"


class InstallJob:
    """Runs an InstallPlan on a background thread; the caller polls `state`, `fraction`,
    `detail` and `message` from Blender's UI thread (a timer), and may `cancel()`."""

    def __init__(self, plan: InstallPlan, log_path: Path) -> None:
        self.plan = plan
        self.log_path = Path(log_path)
        self.state = "pending"  # pending -> running -> done | failed | cancelled
        self.fraction = 0.0
        self.stage = ""
        self.detail = ""
        self.message = ""
        self.result: dict = {}
        self.started = 0.0
        self._cancel = threading.Event()
        self._proc: Optional[subprocess.Popen] = None
        self._thread: Optional[threading.Thread] = None

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed", "cancelled")

    def start(self) -> None:
        self.state, self.started = "running", time.monotonic()
        self._thread = threading.Thread(target=self._run, name="s3d-install", daemon=True)
        self._thread.start()

    def wait(self, timeout: Optional[float] = None) -> str:
        if self._thread is not None:
            self._thread.join(timeout)
        return self.state

    def cancel(self) -> None:
        self._cancel.set()
        proc = self._proc
        if proc is not None and proc.poll() is None:
            _terminate(proc)

    # ------------------------------------------------------------------ worker thread
    def _run(self) -> None:
        plan = self.plan
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(self.log_path, "w", encoding="utf-8") as log:
                log.write(f"S3D engine install {time.strftime('%Y-%m-%d %H:%M:%S')}\n{json.dumps(_plan_dict(plan))}\n")
                shutil.rmtree(plan.partial, ignore_errors=True)  # a previous run's leftovers
                done = 0.0
                steps = plan.steps()
                for step in steps:
                    self.stage, self.detail = step.label, ""
                    log.write(f"\n$ {' '.join(step.argv)}\n")
                    log.flush()
                    rc, tail = self._call(step, log)
                    if self._cancel.is_set():
                        raise _Cancelled()
                    if rc != 0:
                        self.message = explain_failure(step, rc, tail, self.log_path, plan)
                        log.write(f"\nFAILED: {self.message}\n")
                        self.state = "failed"
                        return
                    done += step.weight
                    self.fraction = done
                    if step is steps[-1]:
                        self.result = _last_json(tail)
                self._commit(log)
        except _Cancelled:
            self.message = "Install cancelled; nothing was changed"
            self.state = "cancelled"
        except OSError as exc:
            self.message = f"Install failed: {exc}. Full log: {self.log_path}"
            self.state = "failed"
        finally:
            if self.state != "done":
                shutil.rmtree(plan.partial, ignore_errors=True)

    def _call(self, step: Step, log) -> tuple[int, str]:
        env = worker_env()  # Blender's own Python settings must not leak into pip or the venv
        env.pop("PYTHONPATH", None)  # nor anyone's path: the venv holds everything it needs
        kwargs = {"start_new_session": True} if os.name != "nt" else {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
        self._proc = subprocess.Popen(list(step.argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, text=True, errors="replace", env=env, **kwargs)
        tail: list[str] = []
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            log.write(line)
            log.flush()
            tail = (tail + [line])[-60:]
            self.detail = pip_detail(line) or self.detail
            if self._cancel.is_set():
                _terminate(self._proc)
        return self._proc.wait(), "".join(tail)

    def _commit(self, log) -> None:
        plan = self.plan
        manifest = {"engine": self.result.get("engine"), "torch": self.result.get("torch"), "device": plan.device,
                    "cuda": self.result.get("cuda"), "mps": self.result.get("mps"),
                    "installed": time.strftime("%Y-%m-%d %H:%M:%S"), "plan": _plan_dict(plan)}
        (plan.partial / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        old = plan.folder.with_name(plan.folder.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if plan.folder.exists():
            os.replace(plan.folder, old)
        os.replace(plan.partial, plan.folder)
        shutil.rmtree(old, ignore_errors=True)
        self.fraction, self.state = 1.0, "done"
        self.message = (f"Engine {manifest['engine']} installed with torch {manifest['torch']} "
                        f"in {time.monotonic() - self.started:.0f} s")
        log.write(f"\nDONE: {self.message}\n")


class _Cancelled(Exception):
    pass


def _terminate(proc: subprocess.Popen) -> None:
    try:
        if os.name != "nt":
            os.killpg(proc.pid, signal.SIGTERM)
        else:
            proc.terminate()
    except (OSError, ProcessLookupError):
        pass


def _plan_dict(plan: InstallPlan) -> dict:
    return {"base_python": plan.base_python, "folder": str(plan.folder), "device": plan.device,
            "engine_wheel": str(plan.engine_wheel) if plan.engine_wheel else None,
            "wheels_dir": str(plan.wheels_dir) if plan.wheels_dir else None,
            "torch_requirement": plan.torch_requirement, "use_pytorch_index": plan.use_pytorch_index}


def _last_json(text: str) -> dict:
    for line in reversed(text.splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return {}


def pip_detail(line: str) -> str:
    """A short status from one line of pip's output ("Downloading torch-2.5.1-... (190.2 MB)")."""
    s = line.strip()
    for prefix in ("Collecting ", "Downloading ", "Installing collected packages: ", "Successfully installed "):
        if s.startswith(prefix):
            return s if len(s) <= 90 else s[:87] + "..."
    return ""


def installed(folder: Path) -> Optional[dict]:
    """The manifest of a complete install in `folder` whose Python still exists, else None."""
    try:
        manifest = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or not venv_python(Path(folder)).is_file():
        return None
    return manifest
