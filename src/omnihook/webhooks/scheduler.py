"""Who sends what next, in memory: each endpoint's slots, the fair share of a claim, a room's chain.

No SQL and no network: the dispatcher asks the scheduler what to claim, hands it what was claimed, and
takes items from it for its senders.

- Each endpoint has its own slots (`max_in_flight`) and a local queue up to `prefetch` times that; a
  slow endpoint fills only its own slots, and is not claimed for again until it has news.
- An endpoint is claimed for only when it may have something new (`dirty`): a delivery for it, a
  result, a due time, a poll. A claim that came back short is not repeated until then.
- A room's deliveries are claimed as a run where the budget allows (`run_length`): one sender sends
  them one after another, the next as soon as the one before succeeded; a failure ends the run and
  gives the rest back, so a room's order holds.
- A run being sent asks for the rows behind it before it ends (`extend`): the next record transaction
  leases them and they join the run, so a busy room's sender goes on without a gap.
- When the last of a run is delivered or dies, the room's next run is taken at once (`chain`), in the
  transaction that records it, instead of waiting for a claim round.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from omnihook.webhooks.endpoints import EndpointConfig
from omnihook.webhooks.queue_store import Claimed

# A claim spends a quarter of an endpoint's budget on heads at most, the rest on runs behind them.
RUN_SHARE = 4
# A run asks for the rows behind it once no more than this many of its rows are left to send: a run
# of 32 asks as it starts, so the answer (the next record transaction) comes while it is sent.
EXTEND_AT = 32


@dataclass
class Slots:
    queue: deque[Claimed] = field(default_factory=deque)  # runs: each head carries its followers
    queued: int = 0  # deliveries in the queue, followers included
    in_flight: int = 0  # deliveries of the runs being sent
    senders: int = 0
    # More may be due than was claimed: senders ask for a claim round as the queue runs low.
    backlogged: bool = False


@dataclass(eq=False)
class Extension:
    """A run being sent asks for the rows behind its last, to be taken while results are recorded.

    Taken, they join the run if its sender still sends it (`open`); otherwise they are given back.
    Until it is answered the run's last row does not end the run (the room's next run is not chained).
    """

    endpoint_id: str
    run: list[Claimed]
    last: Claimed
    open: bool = True
    found: int | None = None  # rows that joined the run, once answered
    answered: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(frozen=True)
class ChainPlan:
    keys: dict[str, list[str]]  # endpoint -> the rooms whose next run to take
    wants: dict[str, int]  # endpoint -> room for that many deliveries
    run_length: int = 1


@dataclass(frozen=True)
class ClaimPlan:
    wants: dict[str, int]  # endpoint -> how many to claim
    asked: frozenset[str]  # every endpoint that had room, met by the budget or not
    # endpoint -> at most this many heads, the rest of its want for runs behind them: each run a
    # sender sends without a take per delivery (the slots stay full: never fewer heads than slots)
    heads: dict[str, int] = field(default_factory=dict)


class Scheduler:
    def __init__(self, *, prefetch: int = 4, global_cap: int = 1024, run_length: int = 32) -> None:
        self.prefetch = prefetch
        self.global_cap = global_cap
        self.run_length = run_length
        self.endpoints: Mapping[str, EndpointConfig] = {}
        self.slots: dict[str, Slots] = {}
        self._dirty: set[str] = set()
        self._all_dirty = True
        self._extensions: list[Extension] = []

    # --- what to claim ------------------------------------------------------------------------

    def mark(self, endpoint_ids: Iterable[str] | None = None) -> None:
        """These endpoints (or all, for None) may have something new to claim."""
        if endpoint_ids is None:
            self._all_dirty = True
        else:
            self._dirty.update(endpoint_ids)

    def held(self) -> int:
        return sum(s.queued + s.in_flight for s in self.slots.values())

    def _room(self, endpoint: EndpointConfig, slots: Slots) -> int:
        return endpoint.max_in_flight * self.prefetch - slots.queued - slots.in_flight

    def plan_claim(self) -> ClaimPlan:
        """What each endpoint that may have news has room for, within the global budget."""
        dirty, all_dirty = self._dirty, self._all_dirty
        self._dirty, self._all_dirty = set(), False
        asks: dict[str, int] = {}
        for endpoint in self.endpoints.values():
            if not endpoint.enabled or not (all_dirty or endpoint.id in dirty):
                continue
            slots = self.slots.setdefault(endpoint.id, Slots())
            room = self._room(endpoint, slots)
            if (slots.queue and room < endpoint.max_in_flight // 2) or room <= 0:
                slots.backlogged = True  # enough in hand for now: claim when the queue runs low
                continue
            asks[endpoint.id] = room
        wants = fair_share(asks, self.global_cap - self.held())
        heads = {
            e: min(want, max(self.endpoints[e].max_in_flight, want // RUN_SHARE)) for e, want in wants.items()
        }
        return ClaimPlan(wants, frozenset(asks), heads)

    def claimed(self, plan: ClaimPlan, items: list[Claimed]) -> set[str]:
        """Queue what a claim returned (runs); returns the endpoints whose claim came back full."""
        counts: dict[str, int] = {}
        heads: dict[str, int] = {}
        for item in items:
            counts[item.endpoint_id] = counts.get(item.endpoint_id, 0) + len(item.run)
            heads[item.endpoint_id] = heads.get(item.endpoint_id, 0) + 1
        full = {
            e
            for e, want in plan.wants.items()
            if counts.get(e, 0) >= want or heads.get(e, 0) >= plan.heads.get(e, want)
        }
        for endpoint_id in plan.wants:
            self.slots.setdefault(endpoint_id, Slots()).backlogged = endpoint_id in full
        # There may be more where a claim came back full, and asks the budget could not meet stay.
        self._dirty.update(full)
        self._dirty.update(e for e in plan.asked if e not in plan.wants)
        self.enqueue(items)
        return full

    def chain(self, finished: Iterable[Claimed]) -> ChainPlan:
        """The queues whose run just finished and whose next run there is room to take now."""
        keys: dict[str, list[str]] = {}
        for item in finished:
            # An unordered delivery is a queue of its own; a run goes on until its last.
            if item.ends_run and item.ordering_key != item.id:
                keys.setdefault(item.endpoint_id, []).append(item.ordering_key)
        plan = ChainPlan({}, {}, self.run_length)
        for endpoint_id, endpoint_keys in keys.items():
            endpoint, slots = self.endpoints.get(endpoint_id), self.slots.get(endpoint_id)
            if endpoint is None or not endpoint.enabled or slots is None:
                continue
            room = self._room(endpoint, slots)
            if room < len(endpoint_keys):  # no room for all: a claim round takes the rest
                slots.backlogged = True
            if room > 0:
                plan.keys[endpoint_id] = endpoint_keys[:room]
                plan.wants[endpoint_id] = room
        return plan

    # --- a run that goes on --------------------------------------------------------------------

    def extend(self, endpoint_id: str, run: list[Claimed], sent: int) -> Extension | None:
        """Ask for the rows behind `run` when few of its rows are left to send (`sent` of them are)."""
        last = run[-1]
        if len(run) - sent > EXTEND_AT or last.ordering_key == last.id or self.run_length <= 1:
            return None
        last.ends_run = False  # until answered: the rows behind it may join this run
        extension = Extension(endpoint_id, run, last)
        self._extensions.append(extension)
        return extension

    def take_extensions(self) -> list[Extension]:
        extensions, self._extensions = self._extensions, []
        return extensions

    def extension_room(self, extension: Extension) -> int:
        """How many rows may join the run: a run's length at most, within the endpoint's room."""
        endpoint, slots = self.endpoints.get(extension.endpoint_id), self.slots.get(extension.endpoint_id)
        if not extension.open or endpoint is None or not endpoint.enabled or slots is None:
            return 0
        return max(0, min(self.run_length, self._room(endpoint, slots)))

    def extended(self, extension: Extension, rows: list[Claimed]) -> list[Claimed]:
        """The rows taken for `extension` join its run; returns those to give back (the run has ended)."""
        if not extension.answered.is_set():
            extension.answered.set()
        if not rows or not extension.open:
            extension.last.ends_run = True
            extension.found = 0
            return rows
        extension.run.extend(rows)
        extension.found = len(rows)
        self.slots[extension.endpoint_id].in_flight += len(rows)
        return []

    # --- what to send -------------------------------------------------------------------------

    def enqueue(self, items: Iterable[Claimed]) -> None:
        for item in items:
            slots = self.slots.setdefault(item.endpoint_id, Slots())
            slots.queue.append(item)
            slots.queued += len(item.run)

    def senders_wanted(self, endpoint_id: str) -> int:
        """How many more senders the endpoint's queue needs (each one drains it)."""
        slots, endpoint = self.slots.get(endpoint_id), self.endpoints.get(endpoint_id)
        if slots is None or endpoint is None or not endpoint.enabled:
            return 0
        return max(0, min(len(slots.queue), endpoint.max_in_flight) - slots.senders)

    def next_run(self, endpoint_id: str) -> tuple[EndpointConfig, list[Claimed]] | None:
        """The next run for a sender of this endpoint, now in flight; None when there is none."""
        slots, endpoint = self.slots[endpoint_id], self.endpoints.get(endpoint_id)
        if not slots.queue or endpoint is None or not endpoint.enabled:
            return None
        run = slots.queue.popleft().run
        slots.queued -= len(run)
        slots.in_flight += len(run)
        return endpoint, run

    def sent(self, endpoint_id: str, run: list[Claimed]) -> bool:
        """A run was sent; True when the endpoint should be claimed for (its queue runs low)."""
        slots = self.slots[endpoint_id]
        slots.in_flight -= len(run)
        endpoint = self.endpoints.get(endpoint_id)
        low = endpoint is not None and len(slots.queue) < endpoint.max_in_flight
        return slots.backlogged and low

    def in_flight(self) -> int:
        return sum(s.in_flight for s in self.slots.values())

    def drain(self) -> list[Claimed]:
        """Everything queued and not yet sent (to give back on stop)."""
        return self._give_back(self.slots)

    def drain_disabled(self) -> list[Claimed]:
        """What is queued for endpoints that are gone or disabled: to give back."""
        gone = [e for e in self.slots if (endpoint := self.endpoints.get(e)) is None or not endpoint.enabled]
        return self._give_back(gone)

    def _give_back(self, endpoint_ids: Iterable[str]) -> list[Claimed]:
        items: list[Claimed] = []
        for endpoint_id in endpoint_ids:
            slots = self.slots[endpoint_id]
            items.extend(item for head in slots.queue for item in head.run)
            slots.queue.clear()
            slots.queued = 0
        return items


def fair_share(asks: dict[str, int], budget: int) -> dict[str, int]:
    """Split `budget` between endpoints: small asks are met in full, the rest share what is left equally.

    Served in a fixed order instead, the first endpoints' asks (renewed every round, even when they have
    nothing due) would take the whole budget and the endpoints after them would never be claimed for.
    """
    shares: dict[str, int] = {}
    waiting = sorted(asks.items(), key=lambda item: item[1])
    while waiting and budget > 0:
        equal = budget // len(waiting)
        if equal == 0:  # fewer slots than endpoints: one each, as far as they go
            shares.update((key, 1) for key, _ in waiting[:budget])
            break
        key, ask = waiting[0]
        if ask > equal:
            shares.update((key, equal) for key, _ in waiting)
            break
        shares[key] = ask
        budget -= ask
        waiting.pop(0)
    return shares
