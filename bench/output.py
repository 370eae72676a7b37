"""What every benchmark writes: the machine it ran on, and its JSON next to the printed table."""

import json
import os
import platform
import sys
from pathlib import Path


def machine():
    """The facts a benchmark's numbers depend on."""
    return {"platform": platform.platform(), "cpus": os.cpu_count(), "python": sys.version.split()[0]}


def write_json(path, payload):
    """Writes `payload` to `path` (folders made as needed), sorted and indented; returns `payload`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    return payload
