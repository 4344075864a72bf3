"""The point of publishing: the pipeline writes the warehouse while readers keep reading.

With readers on ``warehouse.duckdb`` itself, the writer's read-write open would fail while any
reader held it. Here the writer rewrites and publishes 30 times while reader threads query the
published marts non-stop; neither may ever fail, and every answer must be exactly one
publication's (the two tables read in one query always from the same generation).
"""

from __future__ import annotations

import threading
from decimal import Decimal
from functools import partial
from pathlib import Path

from tests.warehouse.helpers import READ_GENERATION, write_generation
from tollgate.warehouse import PublishedMarts, publish_marts

TABLES = ["fct_x", "fct_generation"]
GENERATIONS = 30
READERS = 2
TIMEOUT = 120.0


def test_readers_and_the_writer_never_fail_and_readers_see_whole_publications(
    warehouse: Path, marts_dir: Path
) -> None:
    published = {write_generation(warehouse, 0)}
    publish_marts(warehouse, TABLES, marts_dir)
    marts = PublishedMarts(marts_dir)  # shared by the reader threads, as in one API process

    progress = threading.Condition()
    reads = [0] * READERS
    seen: list[list[tuple[int, Decimal, int]]] = [[] for _ in range(READERS)]
    failures: list[BaseException] = []
    writer_done = threading.Event()

    def read(reader: int) -> None:
        try:
            while not writer_done.is_set() and not failures:
                with marts.connect() as db:
                    row = db.execute(READ_GENERATION).fetchone()
                assert row is not None
                count, total, generation = row
                seen[reader].append((count, total, generation))
                with progress:
                    reads[reader] += 1
                    progress.notify_all()
        except BaseException as error:  # surfaced below
            failures.append(error)
            with progress:
                progress.notify_all()

    def caught_up(targets: list[int]) -> bool:
        return bool(failures) or all(n >= t for n, t in zip(reads, targets, strict=True))

    def write() -> None:
        try:
            for generation in range(1, GENERATIONS + 1):
                # Opens the warehouse read-write while the readers are querying.
                expected = write_generation(warehouse, generation)
                publish_marts(warehouse, TABLES, marts_dir)
                published.add(expected)
                # Let every reader finish two queries first, so that each one started after
                # this publication: readers then see every generation, not just some.
                with progress:
                    targets = [n + 2 for n in reads]
                    if not progress.wait_for(partial(caught_up, targets), timeout=TIMEOUT):
                        raise TimeoutError(f"readers stalled after generation {generation}")
                if failures:
                    return
        except BaseException as error:  # surfaced below
            failures.append(error)
        finally:
            writer_done.set()

    threads = [threading.Thread(target=read, args=(n,)) for n in range(READERS)]
    threads.append(threading.Thread(target=write))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIMEOUT)
    assert not [thread for thread in threads if thread.is_alive()], "a thread hung"
    assert not failures, failures

    assert len(published) == GENERATIONS + 1
    for answers in seen:
        assert set(answers) <= published, "every answer is one whole publication"
        generations = [generation for _, _, generation in answers]
        assert generations[0] in (0, 1)
        assert set(generations) == set(range(generations[0], GENERATIONS + 1)), "saw every one"
        assert generations == sorted(generations), "a reader never goes back in time"
