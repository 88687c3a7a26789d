"""The dispatcher: the loop that ties the queue store, the scheduler, the sender and the recorder.

- A claim round asks the scheduler what each endpoint has room for, claims it from the queue store
  in one transaction, and starts senders (long-lived, one per endpoint slot, as a bare client has).
- Senders push results; the result loop records them in batches (one transaction for every attempt
  that finished meanwhile), which also takes the next delivery of each finished room.
- While results cannot be recorded (the database is away), nothing is claimed: they are held and
  recorded first when it is back.
- Wake-ups: `wake()` after a commit that enqueued (naming the endpoints), NOTIFY on PostgreSQL, a
  poll every `poll_interval`; when nothing is due the loop sleeps until the next due time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from omnihook.domain.clock import utcnow
from omnihook.domain.ids import new_id
from omnihook.storage.database import Database
from omnihook.storage.notify import Listener
from omnihook.webhooks.auto_disable import DEFAULT_DISABLE_AFTER, AutoDisable, Disabled
from omnihook.webhooks.delivery_news import DeliveryNews
from omnihook.webhooks.endpoints import EndpointCache, EndpointConfig
from omnihook.webhooks.outbox import DELIVERIES_CHANNEL
from omnihook.webhooks.queue_store import Claimed, OutcomeRows, QueueStore
from omnihook.webhooks.recorder import Recorder
from omnihook.webhooks.retention import prune_delivered
from omnihook.webhooks.retry import Dead, Delivered, RetryAt
from omnihook.webhooks.scheduler import ChainPlan, Extension, Scheduler
from omnihook.webhooks.sender import LEASE_MARGIN, Result, Sender, released
from omnihook.webhooks.settings import ENDPOINTS_CHANNEL
from omnihook.webhooks.transport import Transport

log = logging.getLogger("omnihook.webhooks.dispatcher")

RESULT_BATCH = 256
# Results wait this long for others (unless a batch is full): each record transaction is a commit,
# whose page writes a larger batch shares, and a busy room's sender goes on meanwhile with the rows its
# run was extended by. Only a room's next run taken at the end of its last one waits for it, and a new
# head waits for its room's last result: 5 ms, not 25, halved the steady p99 and doubled one busy room.
RESULT_GATHER_S = 0.005
HOLD_RETRY_S = (0.25, 0.5, 1.0, 2.0, 5.0)  # while results cannot be recorded
PRUNE_EVERY_S = 600


class Dispatcher:
    def __init__(
        self,
        db: Database,
        transport: Transport,
        endpoints: EndpointCache,
        *,
        lease: timedelta = timedelta(seconds=30),
        poll_interval: float = 1.0,
        prefetch: int = 4,
        global_cap: int = 1024,
        run_length: int = 32,
        retention: timedelta | None = None,
        news: DeliveryNews | None = None,
        disable_after: timedelta | None = DEFAULT_DISABLE_AFTER,
    ) -> None:
        self.db = db
        self.endpoints = endpoints
        self.lease = lease
        self.poll_interval = poll_interval
        self.retention = retention
        self.owner = f"{socket.gethostname()[:30]}:{os.getpid()}:{new_id(8)}"
        self.store = QueueStore(db, self.owner)
        self.scheduler = Scheduler(prefetch=prefetch, global_cap=global_cap, run_length=run_length)
        self.sender = Sender(transport)
        self.recorder = Recorder(
            self.store,
            lease=lease,
            news=news,
            auto_disable=AutoDisable(disable_after, on_disabled=self._auto_disabled),
        )
        self._wake = asyncio.Event()
        self._results: list[Result] = []
        self._results_ready = asyncio.Event()
        self._sends: set[asyncio.Task[None]] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._listener = Listener(
            db,
            {DELIVERIES_CHANNEL: self._notified, ENDPOINTS_CHANNEL: self._endpoints_changed},
            name="webhook-dispatcher",
            on_connect=lambda _reconnected: self.wake(),  # catch up on what was sent while away
        )

    # --- life cycle ---------------------------------------------------------------------------

    def wake(self, endpoint_ids: Iterable[str] | None = None) -> None:
        """Claim again: for these endpoints (new deliveries for them), or for every endpoint."""
        self.scheduler.mark(endpoint_ids)
        self._wake.set()

    async def start(self) -> None:
        self._stopping = False
        if self._forget_endpoints not in self.endpoints.listeners:
            self.endpoints.listeners.append(self._forget_endpoints)
        await self.store.analyze()
        self._tasks = [
            asyncio.create_task(self._claim_loop(), name="webhook-claims"),
            asyncio.create_task(self._result_loop(), name="webhook-results"),
        ]
        if self.retention is not None:
            self._tasks.append(asyncio.create_task(self._prune_loop(self.retention), name="webhook-prune"))
        self._listener.start()

    async def stop(self, grace: float = 5.0) -> None:
        """Stop claiming, let requests in flight finish (up to `grace` s), record them, release the rest."""
        self._stopping = True
        await self._listener.close()
        claim_and_prune = [t for t in self._tasks if t.get_name() != "webhook-results"]
        for task in claim_and_prune:
            task.cancel()
        for task in claim_and_prune:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._sends:
            _, late = await asyncio.wait(set(self._sends), timeout=grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        self._push(*(released(item) for item in self.scheduler.drain()))
        self._results_ready.set()  # even with nothing left: the result loop sees the stop and ends
        for task in self._tasks:
            if task.get_name() == "webhook-results":  # it records what is left, then ends
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(task, timeout=10)
        if self.recorder.holding:
            log.warning(
                "stopped with %d webhook results unrecorded: their deliveries are sent again after their lease",
                len(self.recorder.held),
            )
        self._tasks = []
        if self._forget_endpoints in self.endpoints.listeners:
            self.endpoints.listeners.remove(self._forget_endpoints)

    # --- claiming -----------------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        failing = False  # one traceback an episode, not one a poll while the database is away
        while not self._stopping:
            self._wake.clear()
            timeout = self.poll_interval
            try:
                timeout = await self._claim_round()
                if failing:
                    failing = False
                    log.info("claiming deliveries works again")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not failing:
                    log.exception("claiming deliveries failed; retrying every %.1f s", self.poll_interval)
                else:
                    log.debug("claiming deliveries still fails: %s", exc)
                failing = True
            if timeout > 0:
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout)
                except TimeoutError:
                    self.scheduler.mark()  # the poll, or a retry or lease falling due
            else:
                await asyncio.sleep(0)

    async def _claim_round(self) -> float:
        """Claim what each endpoint has room for and start sending; returns how long to sleep."""
        if self.recorder.holding:
            self.scheduler.mark()  # results first: claims resume once they are recorded
            return self.poll_interval
        async with self.db.engine.connect() as conn:
            self.scheduler.endpoints = await self.endpoints.get(conn)
        self._push(*(released(item) for item in self.scheduler.drain_disabled()))
        plan = self.scheduler.plan_claim()
        if not plan.wants:
            return self.poll_interval
        sleep = self.poll_interval
        now = utcnow()
        async with self.store.transaction() as conn:
            ends = self.lease_ends(plan.wants, now)
            claimed = await self.store.claim(
                conn, plan.wants, ends, now, run_length=self.scheduler.run_length, heads_at_most=plan.heads
            )
            claimed = await self._without_disabled(conn, claimed, now)
            full = self.scheduler.claimed(plan, claimed)
            # Where the walk ran out of due rows, what it stepped over waits behind a retrying head.
            await self.store.park_blocked(conn, [e for e in plan.wants if e not in full], now)
            if not full:
                next_due = await self.store.next_due(conn, now)
                if next_due is not None:
                    sleep = min(sleep, max(0.0, (next_due - now).total_seconds()))
        self._pump(self.scheduler.slots)
        return 0.0 if full else sleep

    async def _without_disabled(
        self, conn: AsyncConnection, claimed: list[Claimed], now: datetime
    ) -> list[Claimed]:
        """Give back what was claimed for endpoints disabled since the round read them (another process
        disabled it, or its deliveries were written while the claim waited for SQLite's writer lock)."""
        off = await self.store.disabled_among(conn, {item.endpoint_id for item in claimed})
        if not off:
            return claimed
        back = [row.seq for item in claimed if item.endpoint_id in off for row in item.run]
        await self.store.write(conn, OutcomeRows(released=back), now)
        self.endpoints.invalidate()
        return [item for item in claimed if item.endpoint_id not in off]

    def _forget_endpoints(self) -> None:
        """The endpoints changed: nothing more is started or chained with what was loaded before; the next
        claim round (woken by the change) loads them again and gives back what a disabled one had queued."""
        self.scheduler.endpoints = {}

    def lease_ends(self, endpoint_ids: Iterable[str], now: datetime) -> dict[str, datetime]:
        """Long enough to wait `lease` in the local queue, then send with the full timeout and a margin."""
        ends = {}
        for endpoint_id in endpoint_ids:
            endpoint = self.scheduler.endpoints.get(endpoint_id)
            timeout = timedelta(milliseconds=endpoint.timeout_ms if endpoint is not None else 0)
            ends[endpoint_id] = now + self.lease + timeout + 2 * LEASE_MARGIN
        return ends

    def chain(self, finished: list[Claimed]) -> ChainPlan:
        return ChainPlan({}, {}) if self._stopping else self.scheduler.chain(finished)

    def take_extensions(self) -> list[Extension]:
        return self.scheduler.take_extensions()

    def extension_room(self, extension: Extension) -> int:
        return 0 if self._stopping else self.scheduler.extension_room(extension)

    def extended(self, extension: Extension, rows: list[Claimed]) -> None:
        self._push(*(released(item) for item in self.scheduler.extended(extension, rows)))

    # --- sending ------------------------------------------------------------------------------

    def _pump(self, endpoint_ids: Iterable[str]) -> None:
        """Start senders for the endpoints' queues, up to their slots."""
        if self._stopping:
            return
        for endpoint_id in list(endpoint_ids):
            for _ in range(self.scheduler.senders_wanted(endpoint_id)):
                self.scheduler.slots[endpoint_id].senders += 1
                task = asyncio.create_task(self._sender(endpoint_id))
                self._sends.add(task)
                task.add_done_callback(self._sends.discard)

    async def _sender(self, endpoint_id: str) -> None:
        try:
            while not self._stopping and (next_run := self.scheduler.next_run(endpoint_id)) is not None:
                endpoint, run = next_run
                try:
                    await self._send_run(endpoint, run)
                finally:
                    wants_claim = self.scheduler.sent(endpoint_id, run)
                if wants_claim:
                    self.wake((endpoint_id,))  # there is more to claim: before the slots run dry
        finally:
            self.scheduler.slots[endpoint_id].senders -= 1

    async def _send_run(self, endpoint: EndpointConfig, run: list[Claimed]) -> None:
        """A room's deliveries one after another, each as soon as the one before succeeded (or died);
        after a failure the rest go back, to follow the retry in order. Before its end the run asks for
        the rows behind it, which join it (`run` grows) while the results before them are recorded."""
        extension: Extension | None = None
        n = 0
        try:
            while True:
                if n == len(run):
                    if extension is None or extension.found is not None:
                        return
                    await extension.answered.wait()  # asked for more: the next record transaction answers
                    continue
                if self._stopping:
                    self._push(*(released(rest) for rest in run[n:]))
                    return
                try:
                    result = await self.sender.send(endpoint, run[n])
                except asyncio.CancelledError:
                    self._push(*(released(rest) for rest in run[n:]))
                    raise
                n += 1
                if not isinstance(result.decision, Delivered | Dead):
                    self._push(result, *(released(rest) for rest in run[n:]))
                    return
                if extension is None or extension.found:  # none asked yet, or the last one found rows
                    extension = self.scheduler.extend(endpoint.id, run, n) or extension
                self._push(result)
        finally:
            if extension is not None:
                extension.open = False  # rows taken for it from now on are given back

    def _push(self, *results: Result) -> None:
        if results:
            self._results.extend(results)
            self._results_ready.set()

    # --- recording ----------------------------------------------------------------------------

    async def _result_loop(self) -> None:
        holds = 0
        while True:
            if self.recorder.holding:
                # Retry the held results after a pause that grows: the database is away.
                await asyncio.sleep(HOLD_RETRY_S[min(holds, len(HOLD_RETRY_S) - 1)])
                holds += 1
            else:
                holds = 0
                await self._results_ready.wait()
                if len(self._results) < RESULT_BATCH and self.scheduler.in_flight() and not self._stopping:
                    # Sends are finishing all the time: a moment's wait makes one transaction of many.
                    await asyncio.sleep(RESULT_GATHER_S)
            self._results_ready.clear()
            batch, self._results = self._results, []
            if batch or self.recorder.holding:
                chained = await self.recorder.record(batch, self)
                self.scheduler.enqueue(chained)
                self._pump({item.endpoint_id for item in chained})
                # A row given back is due again; a retry sets a new due time that a round plans for.
                renewed = {
                    r.item.endpoint_id for r in batch if r.decision is None or isinstance(r.decision, RetryAt)
                }
                if renewed:
                    self.wake(renewed)
                if not self.recorder.holding and holds:
                    self.wake()  # claims were paused
            settled = not self.recorder.holding or holds >= len(HOLD_RETRY_S)
            if self._stopping and not self._results and not self._sends and settled:
                return

    # --- retention -----------------------------------------------------------------------------

    async def _prune_loop(self, retention: timedelta) -> None:
        while not self._stopping:
            try:
                pruned = await prune_delivered(self.db, before=utcnow() - retention)
                if pruned:
                    log.info("pruned %d delivered webhook deliveries older than %s", pruned, retention)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("pruning delivered deliveries failed; trying again later")
            await asyncio.sleep(PRUNE_EVERY_S)

    # --- PostgreSQL wake-ups ------------------------------------------------------------------

    def _notified(self, payload: str) -> None:
        # The payload names the endpoints that got deliveries (empty: any of them).
        self.wake(payload.split(",") if payload else None)

    def _auto_disabled(self, _disabled: list[Disabled]) -> None:
        self.endpoints.invalidate()  # the next round drops what is queued for them
        self.wake()

    def _endpoints_changed(self, _payload: str) -> None:
        self.endpoints.invalidate()
        self.wake()
