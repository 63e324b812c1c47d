"""The pipeline's job runner: dependency order, and a worker's error reaching the parent as one line."""

import pytest

from token_assorted import generate_data
from token_assorted.errors import ToolkitError
from token_assorted.jobs import Job, Stage, order, run_jobs

from conftest import ROOT, make_config


def test_order_puts_each_job_after_the_one_it_waits_for():
    jobs = [
        Job("a/cot", [], priority=2),
        Job("a/random-replace", [], after="a/vqvae", priority=1),
        Job("a/vqvae", [], priority=0),
        Job("b/random-replace", [], after="b/vqvae", priority=1),  # b's VQ-VAE is current: nothing to wait for
    ]
    assert [job.name for job in order(jobs)] == ["a/vqvae", "a/random-replace", "b/random-replace", "a/cot"]


def test_a_failing_worker_job_stops_the_run_with_its_error(tmp_path):
    cfg = make_config("task=maze", "+task.params.room=2", f"data.dir={tmp_path}")
    jobs = [Job("maze/data", [Stage("maze: generate data", generate_data.run, cfg)])]
    with pytest.raises(ToolkitError, match=r"maze/data: .*unknown keys \['room'\]"):
        run_jobs(jobs, workers=2, log_dir=tmp_path / "logs")
    assert (tmp_path / "logs" / "maze-data.log").exists()


def test_a_terminated_pipeline_takes_its_workers_with_it(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    script = f"""
import time
from token_assorted.jobs import Job, Stage, run_jobs

def sleep(cfg, progress):
    time.sleep(60)

if __name__ == "__main__":
    run_jobs([Job("a", [Stage("a: sleep", sleep, None)]), Job("b", [Stage("b: sleep", sleep, None)])],
             workers=2, log_dir=__import__("pathlib").Path({str(tmp_path)!r}))
"""
    (tmp_path / "pipe.py").write_text(script)
    pipeline = subprocess.Popen([sys.executable, str(tmp_path / "pipe.py")], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    lines = [pipeline.stdout.readline() for _ in range(2)]  # both jobs started
    assert all(line.startswith("--- started") for line in lines)
    children = subprocess.run(["pgrep", "-P", str(pipeline.pid)], capture_output=True, text=True).stdout.split()
    assert len(children) >= 2
    pipeline.send_signal(signal.SIGTERM)
    assert pipeline.wait(timeout=30) != 0
    time.sleep(1)
    alive = [pid for pid in children if os.path.exists(f"/proc/{pid}") and "Z" not in open(f"/proc/{pid}/stat").read().split()[2]]
    assert alive == []
