"""core/installer.py without Blender: where torch comes from, the commands, the failure lines,
and the job's promises (progress, cancel, nothing half-installed, the previous engine kept).

The job tests run real subprocesses through a plan whose steps are small Python scripts that
imitate each stage (a venv is a folder with bin/python; pip prints what pip prints)."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from s3d.core import installer
from s3d.core.installer import InstallJob, InstallPlan, Step


# ---- where torch comes from ------------------------------------------------------------------------
@pytest.mark.parametrize("os_name, device, expected", [
    ("linux", "cpu", ["--extra-index-url", "https://download.pytorch.org/whl/cpu"]),
    ("windows", "cpu", ["--extra-index-url", "https://download.pytorch.org/whl/cpu"]),
    ("linux", "cuda", []),  # PyPI's Linux wheel is the CUDA build
    ("windows", "cuda", ["--extra-index-url", f"https://download.pytorch.org/whl/{installer.CUDA_INDEX_TAG}"]),
    ("darwin", "mps", []),
    ("darwin", "cpu", []),
])
def test_torch_index_per_platform(os_name, device, expected):
    assert installer.torch_index_args(device, os_name) == expected
    assert installer.torch_index_args(device, os_name, use_pytorch_index=False) == []


def test_unknown_device_is_refused():
    with pytest.raises(ValueError, match="one of cpu, cuda, mps"):
        installer.torch_index_args("tpu", "linux")
    with pytest.raises(ValueError, match="one of cpu, cuda, mps"):
        InstallPlan("python", Path("/x"), None, device="gpu")


def test_devices_offered(monkeypatch):
    monkeypatch.setattr(installer, "system", lambda: "linux")
    assert installer.available_devices(nvidia=False) == ["cpu"]
    assert installer.available_devices(nvidia=True) == ["cpu", "cuda"]
    monkeypatch.setattr(installer, "system", lambda: "darwin")
    monkeypatch.setattr(installer.platform, "machine", lambda: "arm64")
    assert installer.available_devices(nvidia=True) == ["cpu", "mps"]


def test_size_estimate_cuda_is_the_big_one():
    cpu, cuda = installer.size_estimate("cpu", "linux"), installer.size_estimate("cuda", "linux")
    assert cuda[0] > 5 * cpu[0] and cuda[1] > cpu[1]
    assert installer.size_estimate("mps", "darwin") == installer.SIZE_ESTIMATE_GB[("darwin", "mps")]


# ---- the commands ----------------------------------------------------------------------------------
def test_plan_commands_online(tmp_path):
    wheel = tmp_path / "s3d_engine-0.1.0-py3-none-any.whl"
    plan = InstallPlan("/blender/python3.11", tmp_path / "engine", wheel, device="cpu", os_name="linux")
    steps = plan.steps()
    assert [s.label.split()[0] for s in steps] == ["Creating", "Installing", "Installing", "Checking"]
    assert abs(sum(s.weight for s in steps) - 1.0) < 1e-9
    venv = steps[0].argv
    assert venv == ("/blender/python3.11", "-m", "venv", str(tmp_path / "engine.partial"))
    py = str(installer.venv_python(tmp_path / "engine.partial"))
    torch_step, engine_step = steps[1].argv, steps[2].argv
    assert torch_step[:4] == (py, "-m", "pip", "install") and torch_step[-1] == "torch>=2.1"
    assert "https://download.pytorch.org/whl/cpu" in torch_step
    assert engine_step[-1] == str(wheel) and "--extra-index-url" not in engine_step  # deps from the default index
    assert steps[3].argv[0] == py and "import json, torch, s3d_engine" in steps[3].argv[2]


def test_plan_commands_offline(tmp_path):
    plan = InstallPlan("py", tmp_path / "engine", None, device="cuda", wheels_dir=tmp_path / "wheels",
                       torch_requirement="torch==2.5.1", os_name="windows")
    torch_step, engine_step = plan.steps()[1].argv, plan.steps()[2].argv
    for argv in (torch_step, engine_step):
        i = argv.index("--no-index")
        assert argv[i + 1:i + 3] == ("--find-links", str(tmp_path / "wheels"))
        assert "--extra-index-url" not in argv  # offline: never the network
    assert torch_step[-1] == "torch==2.5.1"
    assert engine_step[-1] == "s3d-engine"  # no wheel in the zip: by name


# ---- failure lines ---------------------------------------------------------------------------------
def _fail(text, **kw):
    plan = InstallPlan("py", Path("/home/u/s3d/engine"), None, **kw)
    return installer.explain_failure(plan.steps()[1], 1, text, Path("/home/u/s3d/install.log"), plan)


def test_failure_no_network():
    msg = _fail("WARNING: Retrying ... Failed to establish a new connection: [Errno 111] Connection refused\n"
                "ERROR: Could not find a version that satisfies the requirement torch>=2.1 (from versions: none)\n")
    assert msg.startswith("Installing torch (the large download) failed: no connection to the package index")
    assert "Install from a folder of wheels" in msg and msg.endswith("Full log: /home/u/s3d/install.log")


def test_failure_offline_folder_lacks_the_wheel():
    msg = _fail("ERROR: No matching distribution found for torch>=2.1\n", wheels_dir=Path("/w"))
    assert "the folder of wheels does not hold it" in msg


def test_failure_disk_full():
    msg = _fail("ERROR: Could not install packages due to an OSError: [Errno 28] No space left on device\n",
                device="cuda", os_name="linux")
    assert msg.startswith("The disk is full: the engine needs about 6.0 GB free in /home/u/s3d")


def test_failure_other_quotes_the_last_line():
    msg = _fail("Collecting torch\nERROR: torch-9.9 is not a supported wheel on this platform.\n\n")
    assert "failed (exit 1): ERROR: torch-9.9 is not a supported wheel on this platform." in msg


# ---- the job ---------------------------------------------------------------------------------------
MAKE_VENV = ("import os, sys; p = sys.argv[1]; b = os.path.join(p, 'Scripts' if os.name == 'nt' else 'bin'); "
             "os.makedirs(b); open(os.path.join(b, 'python.exe' if os.name == 'nt' else 'python'), 'w').close()")


class ScriptPlan(InstallPlan):
    """The same plan, its steps replaced by small scripts."""

    scripts: tuple = ()

    def steps(self):
        out = [Step("Creating", (sys.executable, "-c", MAKE_VENV, str(self.partial)), 0.25)]
        out += [Step(label, (sys.executable, "-c", code), 0.75 / len(self.scripts)) for label, code in self.scripts]
        return out


def make_plan(tmp_path, *scripts):
    plan = ScriptPlan(sys.executable, tmp_path / "engine", None)
    object.__setattr__(plan, "scripts", scripts)
    return plan


CHECK_OK = ("Checking", "print('Collecting torch'); import json; "
            "print(json.dumps({'engine': '0.1.0', 'torch': '2.5.1', 'cuda': False, 'mps': False}))")


def test_job_installs_and_replaces_the_previous_engine(tmp_path):
    old = tmp_path / "engine"
    (old / "bin").mkdir(parents=True)
    (old / "old-marker").write_text("x")
    job = InstallJob(make_plan(tmp_path, ("Installing torch", "print('Downloading torch-2.5.1.whl (190 MB)')"),
                               CHECK_OK), tmp_path / "install.log")
    job.start()
    assert job.wait(60) == "done", job.message
    assert job.fraction == 1.0 and job.message.startswith("Engine 0.1.0 installed with torch 2.5.1")
    manifest = installer.installed(tmp_path / "engine")
    assert manifest["torch"] == "2.5.1" and manifest["device"] == "cpu"
    assert not (tmp_path / "engine" / "old-marker").exists()  # replaced in one rename
    assert not (tmp_path / "engine.partial").exists() and not (tmp_path / "engine.old").exists()
    log = (tmp_path / "install.log").read_text()
    assert "Downloading torch-2.5.1.whl (190 MB)" in log and "DONE:" in log


def test_failed_job_keeps_the_previous_engine(tmp_path):
    first = InstallJob(make_plan(tmp_path, CHECK_OK), tmp_path / "install.log")
    first.start()
    assert first.wait(60) == "done"
    before = (tmp_path / "engine" / installer.MANIFEST).read_text()
    job = InstallJob(make_plan(tmp_path, ("Installing torch", "import sys; print('ERROR: No matching distribution "
                                                             "found for torch'); sys.exit(1)"), CHECK_OK),
                     tmp_path / "install.log")
    job.start()
    assert job.wait(60) == "failed"
    assert "no connection to the package index" in job.message
    assert (tmp_path / "engine" / installer.MANIFEST).read_text() == before  # untouched
    assert not (tmp_path / "engine.partial").exists()


def test_cancel_stops_the_running_step_and_leaves_nothing(tmp_path):
    job = InstallJob(make_plan(tmp_path, ("Installing torch", "import time; print('Collecting torch', flush=True); "
                                                             "time.sleep(60)"), CHECK_OK), tmp_path / "install.log")
    t0 = time.monotonic()
    job.start()
    while job.detail != "Collecting torch" and time.monotonic() - t0 < 30:
        time.sleep(0.05)
    assert job.stage == "Installing torch" and 0 < job.fraction < 1
    job.cancel()
    assert job.wait(30) == "cancelled"
    assert time.monotonic() - t0 < 30  # the 60 s step was stopped
    assert job.message == "Install cancelled; nothing was changed"
    assert installer.installed(tmp_path / "engine") is None and not (tmp_path / "engine.partial").exists()


def test_installed_needs_manifest_and_python(tmp_path):
    folder = tmp_path / "engine"
    assert installer.installed(folder) is None
    (folder / "bin").mkdir(parents=True)
    (folder / installer.MANIFEST).write_text(json.dumps({"engine": "0.1.0"}))
    assert installer.installed(folder) is None  # no interpreter: a broken install is not an install
    installer.venv_python(folder).write_text("")
    assert installer.installed(folder) == {"engine": "0.1.0"}


def test_pip_detail_lines():
    assert installer.pip_detail("  Downloading torch-2.5.1-cp311.whl (190.2 MB)\n") == \
        "Downloading torch-2.5.1-cp311.whl (190.2 MB)"
    assert installer.pip_detail("Requirement already satisfied: numpy") == ""
    assert len(installer.pip_detail("Collecting " + "x" * 200)) == 90


def test_base_python_skips_the_blender_binary(tmp_path):
    blender = tmp_path / "blender"
    blender.write_text("")
    py = tmp_path / "python3.11"
    py.write_text("")
    assert installer.base_python(str(blender), str(py)) == str(py)
    assert installer.base_python(str(py), None) == str(py)
