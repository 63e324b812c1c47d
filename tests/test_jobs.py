"""The pipeline's job runner: dependency order, and a worker's error reaching the parent as one line."""

import pytest

from token_assorted import generate_data
from token_assorted.errors import ToolkitError
from token_assorted.jobs import Job, Stage, order, run_jobs

from conftest import make_config


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
