"""Running the dispatcher in the ingest API process: on an event loop of its own, in a thread,
so sending never competes with the ingest path's event loop."""

from __future__ import annotations

import asyncio
import logging
import threading

from tollgate.control.deliveries import DeliveryLedger
from tollgate.control.service import ControlService
from tollgate.delivery.dispatcher import Dispatcher
from tollgate.delivery.email_settings import SmtpSettings
from tollgate.delivery.settings import DeliverySettings
from tollgate.delivery.sources import NoticeSources
from tollgate.warehouse.reader import PublishedMarts

log = logging.getLogger(__name__)


def delivery_service(
    control: ControlService,
    marts: PublishedMarts,
    settings: DeliverySettings | None = None,
    smtp: SmtpSettings | None = None,
) -> DeliveryService | None:
    """The service the settings ask for (``TOLLGATE_DELIVERY_*``, ``TOLLGATE_SMTP_*``), or None
    when delivery is switched off."""
    settings = settings or DeliverySettings()
    if not settings.enabled:
        return None
    ledger = DeliveryLedger(control.engine)
    sources = NoticeSources(ledger, marts, max_age=settings.max_age)
    dispatcher = Dispatcher(
        ledger, sources, control.notification_preferences, settings, smtp or SmtpSettings()
    )
    return DeliveryService(dispatcher, settings)


class DeliveryService:
    """Runs a dispatcher every ``poll_seconds`` on its own event loop, in its own thread."""

    def __init__(self, dispatcher: Dispatcher, settings: DeliverySettings) -> None:
        self._dispatcher = dispatcher
        self._settings = settings
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="tollgate-delivery", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        asyncio.run(self._loop())

    async def _loop(self) -> None:
        try:
            await asyncio.to_thread(self._dispatcher.recover)
            while not self._stop.is_set():
                try:
                    await self._dispatcher.tick()
                except Exception:  # the database may be away for a moment: try again
                    log.exception("delivery dispatcher tick failed")
                await asyncio.to_thread(self._stop.wait, self._settings.poll_seconds)
        finally:
            await self._dispatcher.close()
