"""`s3d batch`: every sketch in a folder, one result folder each, resumable and safe to interrupt.

* **Folders** are named after the file: its stem, or its full name when two inputs share a stem
  (`head.png`, `head.jpg` -> `head.png/`, `head.jpg/`). Names that would climb out of the output
  folder or hide (`..`, `.x`) are made safe (`_..png`), and two inputs never share a folder.
* **Done** means `results.is_complete`: the folder's manifest is complete, lists files that all
  exist with their recorded sizes, and was written with the same options. A `--redo` or a change of options removes the old result.json before any
  writing, so a run killed half-way never leaves a folder that counts as done.
* **One batch per output folder**: a lock file (`.s3d_batch.lock`, holding the pid) refuses a
  second concurrent batch; a lock left by a dead process is taken over.
* **Every item survives**: any exception in one item is recorded in the report with its message
  and the batch goes on; Ctrl-C still writes the report. Exit status 1 when anything failed.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from .errors import S3DError
from .io_utils import write_text_atomic
from .options import GenerateOptions
from .results import clean_stale_tmp, is_complete

SKETCH_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".gif"}
LOCK_NAME = ".s3d_batch.lock"
REPORT_NAME = "batch_report.json"


def find_sketches(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise S3DError(f"input folder not found: {folder}")
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SKETCH_SUFFIXES)


def _safe(name: str) -> str:
    """A folder name that stays inside its parent and is not hidden."""
    name = name.replace(os.sep, "_").replace("/", "_")
    return "_" + name if name.startswith(".") or not name else name


def output_folders(sketches: list[Path]) -> dict[Path, str]:
    """Sketch -> folder name: the stem when unique, else the full file name; always distinct."""
    stems: dict[str, int] = {}
    for s in sketches:
        stems[s.stem.lower()] = stems.get(s.stem.lower(), 0) + 1
    names: dict[Path, str] = {}
    taken: set[str] = set()
    for s in sketches:
        name = _safe(s.stem if stems[s.stem.lower()] == 1 and s.stem not in ("", ".", "..") else s.name)
        base, k = name, 2
        while name.lower() in taken:  # case-insensitive file systems must not merge two results
            name, k = f"{base}_{k}", k + 1
        taken.add(name.lower())
        names[s] = name
    return names


class BatchLock:
    """An exclusive lock file in the output folder, holding the owner's pid."""

    def __init__(self, out_dir: Path) -> None:
        self.path = out_dir / LOCK_NAME

    def __enter__(self) -> "BatchLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = self._owner()
                if owner is not None and _alive(owner):
                    raise S3DError(f"another batch (pid {owner}) is writing to {self.path.parent}; wait for it to "
                                   f"finish, or delete {self.path} if it is gone") from None
                self.path.unlink(missing_ok=True)  # left by a process that no longer runs
                continue
            with os.fdopen(fd, "w") as handle:
                handle.write(str(os.getpid()))
            return self
        raise S3DError(f"could not take the batch lock {self.path}")

    def _owner(self) -> int | None:
        try:
            return int(self.path.read_text().strip())
        except (OSError, ValueError):
            return None

    def __exit__(self, *exc) -> None:
        self.path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class BatchReport:
    total: int = 0
    skipped: int = 0
    done: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    interrupted: bool = False

    def to_dict(self) -> dict:
        return {"total": self.total, "skipped": self.skipped, "done": self.done, "failed": self.failed,
                "interrupted": self.interrupted}


def run_batch(in_dir: Path, out_dir: Path, opts: GenerateOptions, load: Callable[[], object], redo: bool = False,
              log: Callable[[str], None] = print, wrap: Callable[[list], Iterator] = iter) -> BatchReport:
    """Generate every sketch of `in_dir` into `out_dir/<folder>/`; returns the report (also
    written to `out_dir/batch_report.json`). `load()` gives the pipeline, called only when there
    is work; `wrap` may decorate the work list (a progress bar)."""
    sketches = find_sketches(in_dir)
    if not sketches:
        raise S3DError(f"no sketch images ({', '.join(sorted(SKETCH_SUFFIXES))}) in {in_dir}")
    if out_dir.exists() and not out_dir.is_dir():
        raise S3DError(f"output {out_dir} is a file, not a folder; choose a folder")
    folders = output_folders(sketches)
    report = BatchReport(total=len(sketches))
    with BatchLock(out_dir):
        for name in folders.values():  # temporaries of a killed run; we hold the lock, so none is live
            clean_stale_tmp(out_dir / name)
        todo = [s for s in sketches if redo or not is_complete(out_dir / folders[s], opts)]
        report.skipped = len(sketches) - len(todo)
        if report.skipped:
            log(f"resuming: {report.skipped} of {len(sketches)} sketches already done")
        try:
            pipe = load() if todo else None
            for sketch in wrap(todo):
                folder = out_dir / folders[sketch]
                (folder / "result.json").unlink(missing_ok=True)  # not done until this run finishes it
                try:
                    pipe(str(sketch), opts).save(folder, protect=sketches)
                    report.done += 1
                except KeyboardInterrupt:
                    raise
                except Exception as exc:  # noqa: BLE001 - recorded; the batch goes on
                    message = str(exc) if isinstance(exc, S3DError) else f"{type(exc).__name__}: {exc}"
                    report.failed[sketch.name] = message
                    log(f"failed: {sketch.name}: {message}")
        except KeyboardInterrupt:
            report.interrupted = True
            raise
        finally:
            write_text_atomic(out_dir / REPORT_NAME, json.dumps(report.to_dict(), indent=2) + "\n")
    return report
