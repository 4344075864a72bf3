"""The dispatcher: takes new notices up and delivers what is due, each delivery on its own.

Every delivery is a task of its own with its own timeout, and at most
``max_in_flight_per_target`` run at once per endpoint or address, so a slow or failing endpoint
holds up only its own deliveries. What is due lives in the control database (``deliveries.py``),
so retries and crash recovery need no state here: a new dispatcher carries on where one stopped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx

from tollgate.control.deliveries import EMAIL, WEBHOOK, Claim, DeliveryLedger, Preferences
from tollgate.delivery.backoff import retry_delay
from tollgate.delivery.email import EmailDeliveryError, build_message, send_email
from tollgate.delivery.email_settings import SmtpSettings
from tollgate.delivery.settings import DeliverySettings
from tollgate.delivery.sources import NoticeSources
from tollgate.delivery.webhook import WebhookDeliveryError, post_webhook

log = logging.getLogger(__name__)


class Dispatcher:
    def __init__(
        self,
        ledger: DeliveryLedger,
        sources: NoticeSources,
        preferences: Preferences,
        settings: DeliverySettings,
        smtp: SmtpSettings,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._ledger = ledger
        self._sources = sources
        self._preferences = preferences
        self._settings = settings
        self._smtp = smtp
        self._clock = clock or (lambda: datetime.now(UTC))
        # delivery id -> (target, customer, task)
        self._in_flight: dict[str, tuple[str, str, asyncio.Task[None]]] = {}
        self._client: httpx.AsyncClient | None = None
        # Its own threads: a slow mail server must not hold up the ledger's calls, which run
        # on the loop's default executor.
        self._smtp_threads = ThreadPoolExecutor(settings.smtp_threads, "tollgate-smtp")

    @property
    def channels(self) -> set[str]:
        """Webhooks always; e-mail once an SMTP host is configured."""
        return {WEBHOOK, EMAIL} if self._smtp.host else {WEBHOOK}

    def recover(self) -> None:
        """At start-up: attempts a previous process left unfinished are sent again now."""
        self._ledger.recover_all()

    async def tick(self) -> int:
        """Takes up new notices and starts every delivery due; returns how many started."""
        try:
            await self._take_up()
        except Exception:  # retried next tick; what is due meanwhile is still sent
            log.exception("taking up new notices failed")
        free = self._settings.max_in_flight - len(self._in_flight)
        if free <= 0:
            return 0
        in_flight = list(self._in_flight.values())
        claims = await asyncio.to_thread(
            self._ledger.claim,
            limit=free,
            lease=self._settings.lease,
            busy=dict(Counter(target for target, _, _ in in_flight)),
            busy_ids=set(self._in_flight),
            per_target=self._settings.max_in_flight_per_target,
            busy_customers=dict(Counter(customer for _, customer, _ in in_flight)),
            per_customer=self._settings.max_in_flight_per_customer,
        )
        for claim in claims:
            task = asyncio.create_task(self._deliver(claim), name=claim.delivery_id)
            self._in_flight[claim.delivery_id] = (claim.target, claim.notice.customer_id, task)
            task.add_done_callback(self._landed)
        return len(claims)

    async def _take_up(self) -> None:
        notices, publication = await asyncio.to_thread(self._sources.new_notices)
        if notices:
            await asyncio.to_thread(
                self._ledger.take_up,
                notices,
                channels=self.channels,
                preferences=self._preferences,
                max_age=self._settings.max_age,
            )
        self._sources.seen(publication)

    def _landed(self, task: asyncio.Task[None]) -> None:
        self._in_flight.pop(task.get_name(), None)

    async def drain(self) -> None:
        """Waits for every delivery in flight to be recorded."""
        while self._in_flight:
            await asyncio.gather(*(task for _, _, task in list(self._in_flight.values())))

    async def close(self) -> None:
        await self.drain()
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        self._smtp_threads.shutdown(wait=False)
        self._smtp_threads = ThreadPoolExecutor(self._settings.smtp_threads, "tollgate-smtp")

    async def _deliver(self, claim: Claim) -> None:
        started = time.monotonic()
        delivered, retryable = False, True
        status_code: int | None = None
        error: str | None = None
        try:
            status_code = await self._send(claim)
            delivered = True
        except WebhookDeliveryError as failure:
            status_code, error, retryable = failure.status_code, failure.detail, failure.retryable
        except EmailDeliveryError as failure:
            status_code, error, retryable = failure.code, failure.detail, failure.retryable
        except _UndeliverableError as failure:
            error, retryable = str(failure), False
        except Exception as failure:  # a bug must not stop the other deliveries
            log.exception("delivery %s failed unexpectedly", claim.delivery_id)
            error = f"unexpected error: {type(failure).__name__}: {failure}"
        delay = (
            None
            if delivered or not retryable
            else retry_delay(claim.attempt, max_attempts=self._settings.max_attempts)
        )
        retry_at = None if delay is None else self._clock() + delay
        duration_ms = int((time.monotonic() - started) * 1000)
        try:
            recorded = await asyncio.to_thread(
                self._ledger.finish,
                claim,
                delivered=delivered,
                status_code=status_code,
                error=error,
                duration_ms=duration_ms,
                retry_at=retry_at,
            )
        except Exception:
            # Left "sending": its lease runs out and the next claim retries it.
            log.exception("could not record delivery %s", claim.delivery_id)
        else:
            if not recorded:
                log.error(
                    "delivery %s attempt %d outlived its lease and was taken over; its outcome "
                    "(%s) is not recorded",
                    claim.delivery_id,
                    claim.attempt,
                    "delivered" if delivered else error,
                )
        if not delivered:
            log.warning(
                "delivery %s (%s to %s) attempt %d failed: %s%s",
                claim.delivery_id,
                claim.channel,
                claim.target,
                claim.attempt,
                error,
                "" if retry_at is None else f"; next attempt at {retry_at.isoformat()}",
            )

    async def _send(self, claim: Claim) -> int:
        if claim.channel == WEBHOOK:
            if claim.url is None or claim.secret is None:
                raise _UndeliverableError("the webhook endpoint was deleted or disabled")
            if self._client is None:
                self._client = httpx.AsyncClient()
            outcome = await post_webhook(
                self._client,
                url=claim.url,
                secret=claim.secret,
                notice=claim.notice,
                delivery_id=claim.delivery_id,
                attempt=claim.attempt,
                timeout_seconds=self._settings.webhook_timeout_seconds,
                allow_private=self._settings.allow_private_endpoints,
            )
            return outcome.status_code
        if claim.channel == EMAIL:
            if not self._smtp.host:
                raise _UndeliverableError("e-mail delivery is not configured (TOLLGATE_SMTP_HOST)")
            message = build_message(
                claim.notice,
                to=claim.target,
                sender=self._smtp.sender,
                delivery_id=claim.delivery_id,
                customer_name=claim.customer_name,
            )
            loop = asyncio.get_running_loop()
            sent = await loop.run_in_executor(self._smtp_threads, send_email, self._smtp, message)
            return sent.code
        raise _UndeliverableError(f"unknown channel {claim.channel!r}")


class _UndeliverableError(Exception):
    """Retrying cannot help (the endpoint is gone, the channel is off)."""
