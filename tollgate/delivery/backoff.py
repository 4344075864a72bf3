"""When a failed delivery is tried again: exponentially later, over about a day.

The schedule is kept in the database (``next_attempt_at``), not in a sleeping task, so it
survives restarts; that is why this is a function of the attempt number rather than tenacity's
in-process retry loop.
"""

from __future__ import annotations

from datetime import timedelta

FIRST_DELAY = timedelta(minutes=1)
FACTOR = 3
LONGEST_DELAY = timedelta(hours=6)
MAX_ATTEMPTS = 10


def retry_delay(attempts_made: int, *, max_attempts: int = MAX_ATTEMPTS) -> timedelta | None:
    """How long after the ``attempts_made``-th failed attempt the next one starts; None: give
    up. 1 min, 3 min, 9 min, 27 min, 81 min, 4 h 3 min, then every 6 h: ten attempts span
    about 24 hours."""
    if attempts_made >= max_attempts:
        return None
    delay: timedelta = FIRST_DELAY * FACTOR ** (attempts_made - 1)
    return min(delay, LONGEST_DELAY)
