"""Which domains have weights, from the engine's `info` reply (service.info_payload). No bpy.

The panel greys out a domain whose weights the engine did not find, with the reason as its
tooltip. Nothing here starts the worker: the answer comes from the last `info` the add-on got
(the preferences' Check); while there is none, every domain counts as available.
"""
from __future__ import annotations

import os
from typing import Optional, Sequence

DOMAINS = ("face", "cat")
GENERATED_PREFIXES = ("random:", "fake:")  # weights made up by the engine, never files


def _stem(path: str) -> str:
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    return name[:-len(".safetensors")] if name.endswith(".safetensors") else name


def _is_path(weights: str) -> bool:
    return weights.endswith(".safetensors") or "/" in weights or "\\" in weights


def weights_reason(domain: str, weights: str, found: Optional[Sequence[str]]) -> Optional[str]:
    """Why `domain` cannot run with the weights setting `weights` ("{domain}" already replaced),
    or None when it can, or when nothing is known (`found` is None)."""
    if found is None or weights.startswith(GENERATED_PREFIXES):
        return None
    if _is_path(weights):
        if os.path.isfile(os.path.expanduser(weights)):
            return None
        return f"No {domain} weights: the file {weights} does not exist; set Weights in the add-on preferences"
    stems = sorted({_stem(f) for f in found})
    if weights in stems:
        return None
    return (f"No {domain} weights: the engine found no '{weights}' weights (found: {', '.join(stems) or 'none'}); "
            f"install them or set Weights in the add-on preferences")


def availability(template: str, found: Optional[Sequence[str]], domains: Sequence[str] = DOMAINS) -> dict[str, Optional[str]]:
    """{domain: reason it is unavailable, or None} for a weights setting such as "{domain}"."""
    w = (template or "{domain}").strip()
    return {d: weights_reason(d, w.replace("{domain}", d), found) for d in domains}
