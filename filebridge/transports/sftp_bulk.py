"""Bulk SFTP work: many files' jobs on the request pipeline, over several channels.

The jobs of one bulk verb are dealt out over up to ``connections`` channels of the one
SSH connection, a pipeline and a worker thread each (``JOBS_PER_LANE`` files at least
per channel, since a thread costs more than it gives on a small batch). An item whose
job hands it back (``FALLBACK``), or that has no job (a file too large for the
pipeline, a move with a reason file), is done on the careful path, several at a time.
Losing the partner stops the batch: the items not done by then get that error, and
the items done before it keep their results.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from filebridge.errors import PartnerUnreachable, TransportError
from filebridge.transports.sftp_pipeline import Fallback, Job, Pipeline
from filebridge.transports.sftp_session import SshSession, raw_channel

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

JOBS_PER_LANE = 64  # files per channel before another channel is worth its thread


class BulkRunner:
    """Runs bulk verbs for one transport; its worker threads outlive each call."""

    def __init__(self, session: SshSession, channels: int) -> None:
        self._session = session
        self._channels = channels
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def run(self, what: str, items: Sequence[T], job_for: Callable[[T], Job[R] | None],
            careful: Callable[[T], R]) -> list[R | TransportError]:
        """Each item's job on the pipeline; the items a job gave back (``FALLBACK``), or
        that have none, on the careful path. One result (value or error) per item."""
        results: list[R | TransportError | None] = [None] * len(items)
        jobs: list[Job[R]] = []
        slots: list[int] = []
        redo: list[int] = []
        for index, item in enumerate(items):
            try:
                job = job_for(item)
            except TransportError as exc:
                results[index] = exc
                continue
            if job is None:
                redo.append(index)
            else:
                jobs.append(job)
                slots.append(index)
        done: list[R | Fallback | None] = [None] * len(jobs)
        lost = self.pipelines(what, jobs, done)
        for index, value in zip(slots, done, strict=True):
            if isinstance(value, Fallback) or value is None:
                redo.append(index)
            else:
                results[index] = value
        if lost is not None:
            for index in redo:
                results[index] = lost
        elif redo:
            redo.sort()
            again = self.parallel([items[index] for index in redo], careful)
            for index, outcome in zip(redo, again, strict=True):
                results[index] = outcome
        return [value if value is not None else TransportError(f"{what}: no result")
                for value in results]

    def pipelines(self, what: str, jobs: list[Job[R]], done: list[R | Fallback | None]
                  ) -> PartnerUnreachable | None:
        """The jobs spread over up to ``connections`` channels, one pipeline (and one
        worker) each; returns the error if the partner was lost meanwhile."""
        if not jobs:
            return None  # nothing for the pipeline: do not even take a channel
        lanes = max(1, min(self._channels, len(jobs) // JOBS_PER_LANE))

        def lane(number: int) -> PartnerUnreachable | None:
            mine = list(range(number, len(jobs), lanes))
            results: list[R | Fallback | None] = [None] * len(mine)
            try:
                self._session.run(what, lambda client: Pipeline(raw_channel(client)).run(
                    [jobs[index] for index in mine], results))
            except PartnerUnreachable as exc:
                return exc
            except TransportError:
                log.warning("pipelined %s failed; going file by file", what, exc_info=True)
            finally:
                for index, value in zip(mine, results, strict=True):
                    done[index] = value
            return None

        if lanes == 1:
            return lane(0)
        outcomes = list(self._workers().map(lane, range(lanes)))
        return next((lost for lost in outcomes if lost is not None), None)

    def parallel(self, items: Sequence[T], operation: Callable[[T], R]
                 ) -> list[R | TransportError]:
        """One result (path or error) per item; one failure never hides another's success."""
        if len(items) < 2:
            return [_attempt(operation, item) for item in items]
        return list(self._workers().map(lambda item: _attempt(operation, item), items))

    def _workers(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self._channels,
                                                thread_name_prefix="sftp-io")
            return self._pool

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)


def _attempt(operation: Callable[[T], R], item: T) -> R | TransportError:
    try:
        return operation(item)
    except TransportError as exc:
        return exc
