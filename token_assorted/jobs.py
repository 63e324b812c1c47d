"""Running the pipeline's stages: one after another in this process, or as independent jobs on several workers.

A job is a short chain of stages that must run in order in one process (fine-tune a method, then evaluate
it); a job may wait for another (fine-tuning with latents waits for the task's VQ-VAE). The models are
small, so on a CPU two single-threaded processes do nearly twice the work of one with two threads.
Each worker's output goes to a log file; the `=== stage` lines and a line at each tenth of a training run still
reach the terminal.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable

from .commands import with_run_overrides
from .errors import ToolkitError
from .trainer_settings import PROGRESS


@dataclass
class Stage:
    label: str  # "prosqa/cot: fine-tune"
    run: Callable  # run(cfg, progress=...) of an entry point
    cfg: object
    kind: str = ""  # data | vqvae | finetune | evaluate: what job_costs.py estimates it by


@dataclass
class Job:
    name: str  # "prosqa/cot"
    stages: list[Stage]
    after: tuple[str, ...] = ()  # the jobs that have to finish first
    cost: float = 0.0  # estimated work (job_costs.py): the ready job heading the costliest chain starts first
    log: Path | None = field(default=None, compare=False)


class Progress:
    """How far a run of jobs is, by their estimated costs (job_costs.py): "3/9 jobs done, about 24 min left", the
    time left at the pace of the work done so far."""

    def __init__(self, jobs: list[Job]):
        self.total, self.count = sum(job.cost for job in jobs), len(jobs)
        self.done, self.done_cost, self.start = 0, 0.0, time.perf_counter()

    def finished(self, job: Job, now: float | None = None) -> str:
        self.done += 1
        self.done_cost += job.cost
        elapsed = (time.perf_counter() if now is None else now) - self.start
        line = f"--- done {job.name} ({self.done}/{self.count} jobs"
        if self.done < self.count and self.done_cost > 0 and self.total > self.done_cost:
            line += f", about {elapsed * (self.total - self.done_cost) / self.done_cost / 60:.0f} min left"
        return line + ")"


def run_stages(job: Job, progress: bool, say=print) -> None:
    for stage in job.stages:
        start = time.perf_counter()
        say(f"\n=== {stage.label}", flush=True)
        stage.run(stage.cfg, progress=progress)
        say(f"=== {stage.label}: {time.perf_counter() - start:.0f} s", flush=True)


def run_in_worker(job: Job, threads: int, errors) -> None:
    """A worker's job: its own thread budget, its output in job.log, an error sent back to the parent as one line."""
    import torch

    torch.set_num_threads(threads)
    job.log.parent.mkdir(parents=True, exist_ok=True)
    terminal = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    log = open(job.log, "a", encoding="utf-8")  # a rerun adds to the log: the run it resumes stays readable
    log.write(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} {job.name}\n")
    log.flush()
    # at the descriptor level, so that loggers holding the old streams write to the log too
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
        os.dup2(log.fileno(), stream.fileno())
    # the training stages' step lines (trainer_settings.step_lines): on the terminal named by the job, in the log
    # with the time, so that a log shows how a long run went while it runs
    reporter = logging.StreamHandler(terminal)
    reporter.setFormatter(logging.Formatter(f"    {job.name}: %(message)s"))
    PROGRESS.addHandler(reporter)
    in_log = logging.StreamHandler(log)
    in_log.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    PROGRESS.addHandler(in_log)
    PROGRESS.setLevel(logging.INFO)
    with log, terminal:
        try:
            run_stages(job, progress=False, say=partial(print, file=terminal))
        except ToolkitError as error:
            errors.send(f"{job.name}: {with_run_overrides(error)}")
            sys.exit(1)
        except BaseException as error:
            traceback.print_exc()
            errors.send(f"{job.name} failed ({type(error).__name__}: {error}); traceback in {job.log}")
            sys.exit(1)


def run_jobs(jobs: list[Job], workers: int, log_dir: Path) -> None:
    """Run every job once its `after` jobs are done; with workers > 1, that many at a time in fresh processes."""
    if workers <= 1:
        progress = Progress(jobs)
        for job in order(jobs):
            run_stages(job, progress=True)
            print(progress.finished(job), flush=True)
        return
    # a killed pipeline takes its workers with it: run_in_processes terminates them on its way out
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        run_in_processes(jobs, workers, log_dir)
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_in_processes(jobs: list[Job], workers: int, log_dir: Path) -> None:
    threads = max(1, (os.cpu_count() or 1) // workers)
    progress = Progress(jobs)
    pending = costliest_first(jobs)
    names = {job.name for job in jobs}
    done: set[str] = set()
    running: dict[str, tuple[Job, multiprocessing.Process, object]] = {}
    # a fresh process per job: no state (threads, autocast caches, memory) carries from one job to the next. Not a
    # multiprocessing.Pool: its workers are daemons, and a daemon may not start the DataLoader's worker processes
    context = multiprocessing.get_context("spawn")
    try:
        while pending or running:
            for job in [j for j in pending if is_ready(j, names, done)]:
                if len(running) == workers:
                    break
                job.log = log_dir / (job.name.replace("/", "-") + ".log")
                print(f"--- started {job.name} (log: {job.log})", flush=True)
                errors, send = context.Pipe(duplex=False)
                process = context.Process(target=run_in_worker, args=(job, threads, send), name=job.name)
                process.start()
                send.close()
                running[job.name] = (job, process, errors)
                pending.remove(job)
            for name, (job, process, errors) in list(running.items()):
                message = sent_error(errors)  # read as it comes, so a long message cannot block the worker
                if message is None and process.is_alive():
                    continue
                process.join()
                errors.close()
                del running[name]
                if message is not None or process.exitcode != 0:
                    # the finally below ends the other jobs
                    raise ToolkitError(message or f"{name} ended with exit status {process.exitcode}; see {job.log}")
                done.add(name)
                print(progress.finished(job), flush=True)
            time.sleep(0.2)
    finally:
        for _, process, _ in running.values():
            process.terminate()
        for _, process, _ in running.values():
            process.join()


def sent_error(errors) -> str | None:
    """The error line a worker sent, if one has come (a worker that ends without one leaves the pipe at its end)."""
    try:
        return errors.recv() if errors.poll() else None
    except EOFError:
        return None


def is_ready(job: Job, names: set[str], done: set[str]) -> bool:
    """A job may start once the jobs it waits for are done; one that is not part of this run counts as done."""
    return all(name not in names or name in done for name in job.after)


def costliest_first(jobs: list[Job]) -> list[Job]:
    """The jobs by the cost of the chain each heads (its own and that of the costliest chain waiting on it), the
    longest first: on several workers, long work started last keeps one worker busy while the others idle."""
    waiting: dict[str, list[Job]] = {}
    for job in jobs:
        for name in job.after:
            waiting.setdefault(name, []).append(job)

    def chain(job: Job) -> float:
        return job.cost + max((chain(other) for other in waiting.get(job.name, [])), default=0.0)

    return sorted(jobs, key=chain, reverse=True)


def order(jobs: list[Job]) -> list[Job]:
    """The jobs costliest chain first, each after the jobs it waits for."""
    ordered: list[Job] = []
    pending = costliest_first(jobs)
    names = {job.name for job in jobs}
    while pending:
        job = next(j for j in pending if is_ready(j, names, {o.name for o in ordered}))
        ordered.append(job)
        pending.remove(job)
    return ordered
