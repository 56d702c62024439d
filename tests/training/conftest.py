"""Shared fixtures for the procedural-data tests (kept small: renders at 32-64^2)."""
from __future__ import annotations

import pytest

from training.data.face_template import face_template


@pytest.fixture(scope="session")
def template():
    return face_template()
