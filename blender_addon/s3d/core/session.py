"""A Generate job (one or more seeds) as a plain state machine over a WorkerClient. No bpy.

`step()` is the whole polling step: it never blocks, so Blender's modal TIMER handler (or a
test, or the synchronous batch loop) just calls it repeatedly.
"""
from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from typing import Any, Optional

from .client import Request, WorkerClient
from .request import for_seed


def safe_name(name: str, fallback: str = "sketch") -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")
    return cleaned[:60] or fallback


@dataclass
class Job:
    seed: int
    out_dir: str
    request: Optional[Request] = None
    reported: bool = False

    @property
    def finished(self) -> bool:
        return self.request is not None and self.request.finished


@dataclass
class GenerateSession:
    client: WorkerClient
    params: dict[str, Any]  # request.generate_request(...): everything but the seed and folder
    seeds: list[int]
    out_root: str
    name: str = "sketch"
    jobs: list[Job] = field(default_factory=list)
    started_at: float = 0.0
    cancelled: bool = False

    def start(self) -> None:
        self.started_at = time.monotonic()
        for seed in self.seeds:
            out_dir = os.path.join(self.out_root, f"{safe_name(self.name)}_seed{seed}")
            job = Job(seed, out_dir)
            job.request = self.client.submit("generate", **for_seed(self.params, seed, out_dir))
            self.jobs.append(job)

    def step(self) -> list[Job]:
        """Apply the worker's news; returns the jobs that finished during this step."""
        self.client.poll()
        done = [j for j in self.jobs if j.finished and not j.reported]
        for j in done:
            j.reported = True
        return done

    def wait_all(self, timeout: Optional[float] = None, on_update=None) -> None:
        """Blocking variant for background mode (no timers there)."""
        for job in self.jobs:
            if job.request is not None and not job.request.finished:
                self.client.wait(job.request, timeout, on_update)

    def cancel(self) -> None:
        self.cancelled = True
        for job in self.jobs:
            if job.request is not None and not job.request.finished:
                self.client.cancel(job.request)

    @property
    def finished(self) -> bool:
        return all(j.finished for j in self.jobs)

    @property
    def progress(self) -> float:
        if not self.jobs:
            return 0.0
        total = 0.0
        for j in self.jobs:
            r = j.request
            if r is None:
                continue
            total += 1.0 if r.finished else max(0.0, min(1.0, r.fraction))
        return total / len(self.jobs)

    @property
    def current(self) -> Optional[Job]:
        for j in self.jobs:
            if not j.finished:
                return j
        return None

    def status_text(self) -> str:
        n = len(self.jobs)
        done = sum(1 for j in self.jobs if j.finished)
        cur = self.current
        if cur is None:
            return f"finished {done}/{n}"
        stage = cur.request.stage if cur.request is not None else "queued"
        prefix = f"seed {cur.seed} ({done + 1}/{n}): " if n > 1 else ""
        return f"{prefix}{stage} {int(round(self.progress * 100))}%"

    def errors(self) -> list[str]:
        return [f"seed {j.seed}: {j.request.error}" for j in self.jobs
                if j.request is not None and j.request.state == "error"]

    def results(self) -> list[Job]:
        return [j for j in self.jobs if j.request is not None and j.request.state == "done"]
