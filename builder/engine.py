"""Where a build's tasks run: local child processes (default) or Ray tasks on a cluster.

Both engines take a picklable function and a list of argument tuples and yield ``(index, outcome)``
as tasks finish, where ``outcome`` is the function's result or a :class:`TaskFailure` saying why the
task produced none (a crash, a signal, a timeout, a node that went away). Neither schedules
anything itself: locally each task is a child process forked from a forkserver (a crash, even a
segfault inside OpenSim, ends only that child), ``workers`` at a time; on Ray each task is a remote
function call with ``max_retries`` (Ray re-runs a task whose worker or node died) and Ray places it.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

PRELOAD = ["builder.dataset.sequence_task", "builder.biosim.fast_so", "opensim", "torch", "webdataset", "anny"]
"""Modules the local forkserver imports once, so that every task starts with them loaded (one missing is
skipped). torch, webdataset and anny cost 3 s per task otherwise: with them the default dataset's windows
stage took 0.87 instead of 1.7 s per sequence, with byte-identical shards."""


THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
"""Set to 1 for local workers (unless the user set them), as Ray does for its one-CPU tasks: a task is
one core's work, and BLAS threads spinning against each other's processes cost far more than they give
(measured: 16-frame static optimizations 66-243 s with two BLAS threads per worker on a busy machine)."""


def _start_forkserver() -> None:
    """Start the forkserver (once) with one thread per numerical library; this process keeps its setting."""
    from multiprocessing import forkserver

    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    os.environ.update({name: "1" for name, value in saved.items() if value is None})
    try:
        forkserver.ensure_running()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)


@dataclass(frozen=True)
class TaskFailure:
    """A task that returned nothing: ``reason`` says why (worker killed, timed out, raised)."""

    reason: str


def describe_exit(code: int | None) -> str:
    """Why a child process ended without a result, from its exit code (None: it timed out)."""
    if code is None:
        return "worker timed out and was killed"
    if code < 0:
        try:
            return f"worker killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"worker killed by signal {-code}"
    return f"worker exited with code {code}"


def _child(connection, payload: bytes) -> None:
    import cloudpickle

    function, arguments = cloudpickle.loads(payload)
    try:
        result = function(*arguments)
    except Exception as error:  # noqa: BLE001 - reported to the parent as the task's failure
        connection.send(TaskFailure(f"{type(error).__name__}: {error}"))
        raise
    connection.send(result)


@dataclass(frozen=True)
class InlineEngine:
    """Every task in this process, one after the other (no isolation: for light steps and one worker)."""

    slots: int = 1

    def map(self, function: Callable, argument_list: Sequence[tuple], label: str = "task"
            ) -> Iterator[tuple[int, object]]:
        for index, arguments in enumerate(argument_list):
            yield index, function(*arguments)


@dataclass(frozen=True)
class LocalEngine:
    """Each task in its own child process, ``workers`` at a time (default: the CPU cores)."""

    workers: int | None = None
    timeout_s: float | None = None   # per task; a task still running is killed and reported

    @property
    def slots(self) -> int:
        return self.workers or max(1, len(os.sched_getaffinity(0)))

    def map(self, function: Callable, argument_list: Sequence[tuple], label: str = "task"
            ) -> Iterator[tuple[int, object]]:
        import cloudpickle

        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
        _start_forkserver()

        def one(index: int) -> tuple[int, object]:
            receive, send = context.Pipe(duplex=False)
            payload = cloudpickle.dumps((function, argument_list[index]))   # lambdas and local classes too
            process = context.Process(target=_child, args=(send, payload),
                                      name=f"biohuman-{label}-{index}")
            process.start()
            send.close()
            result, timed_out = None, False
            try:   # results are small: read them before joining, so the pipe never stalls the child
                if receive.poll(self.timeout_s):
                    result = receive.recv()
                else:
                    timed_out = True
            except EOFError:   # the child ended without sending anything
                pass
            if timed_out:
                process.kill()
            process.join()
            receive.close()
            return index, result if result is not None else TaskFailure(
                describe_exit(None if timed_out else process.exitcode))

        with ThreadPoolExecutor(max_workers=self.slots) as pool:
            futures = [pool.submit(one, index) for index in range(len(argument_list))]
            for future in as_completed(futures):
                yield future.result()


@dataclass(frozen=True)
class RayEngine:
    """One Ray task per item on the cluster at ``address`` (``auto``, ``ray://host:10001``, ``local``).

    ``max_retries``: Ray re-runs a task whose worker process or node died this many times before
    its failure is reported; ``num_cpus`` per task; ``runtime_env`` as ``ray.init`` takes it.
    """

    address: str = "auto"
    max_retries: int = 3
    num_cpus: float = 1.0
    runtime_env: dict = field(default_factory=dict)

    @property
    def slots(self) -> int:
        import ray

        self._connect()
        return max(1, int(ray.cluster_resources().get("CPU", 1) // self.num_cpus))

    def _connect(self) -> None:
        try:
            import ray
        except ImportError:
            raise RuntimeError("running on a cluster needs Ray: pip install 'biohuman[cluster]' "
                               "(or leave out --address to use local processes)") from None
        if not ray.is_initialized():
            ray.init(address=self.address, log_to_driver=False, runtime_env=self.runtime_env or None)

    def map(self, function: Callable, argument_list: Sequence[tuple], label: str = "task"
            ) -> Iterator[tuple[int, object]]:
        import ray

        self._connect()
        task = ray.remote(num_cpus=self.num_cpus, max_retries=self.max_retries, retry_exceptions=False)(function)
        task = task.options(name=f"biohuman-{label}")
        pending = {task.remote(*arguments): index for index, arguments in enumerate(argument_list)}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            index = pending.pop(done[0])
            try:
                yield index, ray.get(done[0])
            except ray.exceptions.RayError as error:
                first = str(error).strip().splitlines()[0] if str(error).strip() else ""
                yield index, TaskFailure(f"ray task failed: {type(error).__name__}: {first}")


Engine = InlineEngine | LocalEngine | RayEngine


def engine_for(address: str | None = None, workers: int | None = None, timeout_s: float | None = None,
               max_retries: int = 3) -> Engine:
    """Ray at ``address`` when one is given, else local processes."""
    return RayEngine(address, max_retries=max_retries) if address else LocalEngine(workers, timeout_s)
