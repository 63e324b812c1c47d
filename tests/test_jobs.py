"""The pipeline's job runner: dependency order, and a worker's error reaching the parent as one line."""

import pytest

from token_assorted import generate_data
from token_assorted.errors import ToolkitError
from token_assorted.jobs import Job, Progress, Stage, costliest_first, order, run_jobs

from conftest import ROOT, make_config


def test_order_puts_each_job_after_the_one_it_waits_for_and_the_costliest_chains_first():
    jobs = [
        Job("a/cot", [], cost=5),
        Job("a/random-replace", [], after=("a/vqvae",), cost=4),
        Job("a/vqvae", [], cost=2),  # heads a chain of 2 + 4
        Job("b/random-replace", [], after=("b/vqvae",), cost=3),  # b's VQ-VAE is current: nothing to wait for
        Job("b/cot", [], cost=8),
    ]
    assert [job.name for job in order(jobs)] == ["b/cot", "a/vqvae", "a/cot", "a/random-replace", "b/random-replace"]
    assert [job.name for job in costliest_first(jobs)][:2] == ["b/cot", "a/vqvae"]


def test_each_finished_job_says_how_many_are_done_and_the_time_left_at_the_pace_so_far():
    jobs = [Job("a/base", [], cost=6), Job("a/cot", [], cost=2), Job("a/random-replace", [], cost=2)]
    progress = Progress(jobs)
    start = progress.start
    assert progress.finished(jobs[0], now=start + 600) == "--- done a/base (1/3 jobs, about 7 min left)"  # 6 in 10 min
    assert progress.finished(jobs[1], now=start + 960) == "--- done a/cot (2/3 jobs, about 4 min left)"
    assert progress.finished(jobs[2], now=start + 1200) == "--- done a/random-replace (3/3 jobs)"


def test_a_job_waits_for_every_job_it_names():
    jobs = [
        Job("a/random-replace", [], after=("a/vqvae", "a/base"), cost=4),
        Job("a/base", [], cost=10),  # heads a chain of 10 + 4
        Job("a/vqvae", [], cost=2),
        Job("a/sol-only", [], after=("a/base",), cost=1),
    ]
    names = [job.name for job in order(jobs)]
    assert names[0] == "a/base" and names.index("a/random-replace") > names.index("a/vqvae")
    assert names.index("a/sol-only") > names.index("a/base")


@pytest.mark.slow
def test_a_failing_worker_job_stops_the_run_with_its_error(tmp_path):
    cfg = make_config("task=maze", "+task.params.room=2", f"data.dir={tmp_path}")
    jobs = [Job("maze/data", [Stage("maze: generate data", generate_data.run, cfg)])]
    with pytest.raises(ToolkitError, match=r"maze/data: .*unknown keys \['room'\]"):
        run_jobs(jobs, workers=2, log_dir=tmp_path / "logs")
    assert (tmp_path / "logs" / "maze-data.log").exists()


def killed(cfg, progress):
    import os
    import signal

    os.kill(os.getpid(), signal.SIGKILL)  # as the kernel's out-of-memory killer would


@pytest.mark.slow
def test_a_worker_killed_outright_stops_the_run_with_its_exit_status(tmp_path):
    with pytest.raises(ToolkitError, match=r"a ended with exit status -9; see .*a.log"):
        run_jobs([Job("a", [Stage("a: killed", killed, None)])], workers=2, log_dir=tmp_path / "logs")


def train_twenty_steps(cfg, progress):
    import lightning as L
    import torch

    from token_assorted.trainer_settings import make_trainer

    class Fit(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Linear(1, 1)

        def training_step(self, batch, batch_idx):
            loss = self.weight(batch).pow(2).mean()
            self.log("train_loss", loss, prog_bar=True)
            return loss

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.01)

    trainer = make_trainer(cfg.trainer, cfg.finetune, callbacks=[], logger=False, progress=progress,
                           default_root_dir=cfg.out_dir, enable_checkpointing=False)  # nothing written elsewhere
    trainer.fit(Fit(), torch.utils.data.DataLoader(torch.ones(8, 1), batch_size=1))


@pytest.mark.slow
def test_a_worker_reports_each_tenth_of_its_training_on_the_terminal(tmp_path, capfd):
    # its output goes to its log, where a progress bar would be noise; a line at each tenth tells the terminal
    # how far it is and how long it has left
    cfg = make_config("finetune.max_steps=20", "finetune.epochs=100", "trainer.accelerator=cpu", f"out_dir={tmp_path}")
    run_jobs([Job("a/cot", [Stage("a/cot: fine-tune", train_twenty_steps, cfg)])], workers=2, log_dir=tmp_path)
    lines = [line for line in capfd.readouterr().out.splitlines() if line.startswith("    a/cot: step")]
    assert [line.split(" (")[0] for line in lines] == [f"    a/cot: step {step}/20" for step in range(2, 20, 2)]
    assert lines[0].startswith("    a/cot: step 2/20 (10 %), train_loss ") and lines[0].endswith(" min left")
    # the log has them too, with the time: a long run's log shows how far it got
    logged = [line for line in (tmp_path / "a-cot.log").read_text().splitlines() if " step " in line]
    assert [line.split(" ", 1)[1].split(" (")[0] for line in logged] == [f"step {step}/20" for step in range(2, 20, 2)]


def load_in_worker_processes(cfg, progress):
    from torch.utils.data import DataLoader

    assert sorted(DataLoader(range(4), batch_size=1, num_workers=2)) == [0, 1, 2, 3]


@pytest.mark.slow
def test_a_worker_job_may_start_processes_of_its_own(tmp_path):
    # trainer.num_workers > 0 under the pipeline: a job's DataLoader starts worker processes of its own
    jobs = [Job(name, [Stage(f"{name}: load", load_in_worker_processes, None)]) for name in ("a", "b")]
    run_jobs(jobs, workers=2, log_dir=tmp_path / "logs")
    assert (tmp_path / "logs" / "a.log").exists() and (tmp_path / "logs" / "b.log").exists()


@pytest.mark.slow
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


def test_job_costs_grow_with_the_text_a_method_trains_on_and_generates():
    from token_assorted.job_costs import TaskShape, stage_cost

    shape = TaskShape(prompt=100.0, trace=40.0, answer=2.0, records=1000)

    def cost(kind, *overrides):
        return stage_cost(Stage("", None, make_config("finetune.max_steps=50", *overrides), kind), shape)

    tuning = {mode: cost("finetune", f"mode={mode}") for mode in ("sol-only", "random-replace", "cot")}
    assert tuning["sol-only"] < tuning["random-replace"] < tuning["cot"]
    assert cost("finetune", "mode=cot", "finetune.max_steps=100") == 2 * tuning["cot"]
    assert cost("finetune", "mode=cot", "finetune.max_steps=null", "finetune.epochs=1") > tuning["cot"]
    greedy = cost("evaluate", "task=prosqa", "mode=cot", "task.sizes.test=10")
    assert cost("evaluate", "task=maze", "mode=cot", "task.sizes.test=10", "eval.num_samples=10") == 11 * greedy
    assert cost("vqvae", "vqvae.train.max_steps=10") < cost("vqvae", "vqvae.train.max_steps=20")
