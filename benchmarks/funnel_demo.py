"""Time ``make demo``'s screen command in a fresh data folder, and say what else ran.

Runs exactly the command of the Makefile's ``demo`` target (without the install step)
with a fresh embedded store and scratch folder, and records its wall time, its own CPU
time, the machine's load average before and after, the other busy processes at the
start, and the per-tier wall times from the records. The machine is shared: the load
says how much of the 2 cores the demo had.

Usage::

    PYTHONPATH=src python benchmarks/funnel_demo.py [--out benchmarks/results/funnel_demo.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def demo_command() -> list[str]:
    """The ``sseflow screen ...`` line of the Makefile's demo target, as arguments."""
    text = (REPO / "Makefile").read_text()
    body = text.split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    line = " ".join(part.strip().rstrip("\\") for part in body.splitlines()[1:])
    args = shlex.split(line.replace("$(VENV)/bin/sseflow", "sseflow"))
    assert args[:2] == ["sseflow", "screen"], args
    return args


def busy_processes() -> list[str]:
    """Other processes using CPU now (ps, top 8 by CPU)."""
    out = subprocess.run(
        ["ps", "-eo", "pcpu,etime,comm,args", "--sort=-pcpu"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.splitlines()
    return [re.sub(r"\s+", " ", line.strip())[:160] for line in out[1:9]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "funnel_demo.json"))
    args = parser.parse_args()
    command = demo_command()
    with tempfile.TemporaryDirectory(prefix="sseflow-demo-") as tmp:
        data = Path(tmp) / "sseflow-data"
        args_run = [a if a != "$(DATA_DIR)" else str(data) for a in command[1:]]
        env = {**os.environ, "SSEFLOW_WORK_DIR": str(Path(tmp) / "work"), "COLUMNS": "80"}
        env = {k: v for k, v in env.items() if not k.startswith("SSEFLOW_QE_")}
        before = {"load_average": os.getloadavg(), "busy": busy_processes()}
        t0 = time.perf_counter()
        usage0 = os.times()
        done = subprocess.run(
            [sys.executable, "-m", "sseflow", *args_run],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        usage1 = os.times()
        wall = time.perf_counter() - t0
        after = {"load_average": os.getloadavg()}
        from sseflow.store import candidate_repository, get_job_store

        store = get_job_store(data_dir=data)
        store.connect()
        tiers: dict[str, list] = {}
        for rec in candidate_repository(store, read_only=True).find(
            {}, projection={"structure": 0}
        ):
            for tier, doc in (rec.get("tiers") or {}).items():
                tiers.setdefault(tier, []).append(
                    {
                        "formula": rec.get("formula"),
                        "status": doc.get("status"),
                        "wall_time_s": doc.get("wall_time_s"),
                        "batch_wall_time_s": doc.get("batch_wall_time_s"),
                        "barrier_ev": doc.get("barrier_forward_ev", doc.get("ea_1d_ev")),
                    }
                )
    result = {
        "command": " ".join(["sseflow", *command[1:]]),
        "exit_code": done.returncode,
        "wall_s": round(wall, 1),
        "cpu_s_children": round(
            (usage1.children_user - usage0.children_user)
            + (usage1.children_system - usage0.children_system),
            1,
        ),
        "cores": os.cpu_count(),
        "before": before,
        "after": after,
        "tiers": tiers,
        "output": done.stdout[-6000:],
        "stderr": done.stderr[-2000:],
    }
    Path(args.out).write_text(json.dumps(result, indent=1, default=str))
    print(done.stdout)
    print(f"wall {wall:.0f} s, CPU {result['cpu_s_children']} s, load {before['load_average']}")


if __name__ == "__main__":
    main()
