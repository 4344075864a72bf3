"""The Usage page's default query, started while the customer reads the Overview.

Usage is read from the event files themselves (as ``GET /usage`` reads it: events not yet
billed included), and on a large data set that read is the slowest thing a customer page
does (about a second with 10 million events, every column of every part read for one
customer's rows). The Overview starts it in the background, into the same cache the Usage
page reads (``customer_usage.usage``, whose per-key lock makes a page that arrives early wait
for this run rather than start a second one). A failure here changes nothing: the page then
reads for itself and shows the error the normal way.
"""

from __future__ import annotations

import logging
import threading

from dashboards.customer_usage import usage
from dashboards.resources import Sources

log = logging.getLogger(__name__)


def prefetch_usage(srcs: Sources, customer_id: str, key_id: str) -> threading.Thread:
    def read() -> None:
        try:
            usage(srcs, customer_id, key_id, None, None)
        except Exception:  # only a warm-up: the page reads again and reports
            log.warning("prefetching %s's usage failed", customer_id, exc_info=True)

    thread = threading.Thread(target=read, name=f"prefetch-usage-{customer_id}", daemon=True)
    thread.start()
    return thread
