"""Fairness between callers: one caller cannot starve the others.

- The cost limit holds for a whole HTTP request: the operations of a batch share one budget
  (``RequestBudget``, charged by the pipeline after each operation's cost check).
- Each caller (token subject, or the client address when anonymous) has at most
  ``max_concurrent`` requests in flight and a token bucket of ``rate`` requests a second
  (bursts up to ``burst``); beyond either the gateway answers 429 at once, before any work.
"""

from __future__ import annotations

import contextlib
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field

from gateway.limits import LimitExceeded


@dataclass
class RequestBudget:
    maximum: int
    spent: int = 0

    def charge(self, cost: int) -> None:
        self.spent += cost
        if self.spent > self.maximum:
            raise LimitExceeded(
                "requestCost",
                self.maximum,
                self.spent,
                f"The request's operations cost {self.spent} together; at most {self.maximum} "
                "are accepted per request, batch included.",
            )


current_budget: ContextVar[RequestBudget | None] = ContextVar("request_budget", default=None)


def charge(cost: int) -> None:
    """Charge the current request's budget (no budget: nothing to charge)."""
    budget = current_budget.get()
    if budget is not None:
        budget.charge(cost)


class TooBusy(Exception):
    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


@dataclass
class _Caller:
    tokens: float
    refreshed: float
    in_flight: int = 0


@dataclass
class CallerLimiter:
    max_concurrent: int
    rate: float
    burst: int
    capacity: int = 100_000  # callers remembered (least recently seen forgotten first)
    clock: Callable[[], float] = time.monotonic
    _callers: OrderedDict[str, _Caller] = field(default_factory=OrderedDict)

    def _caller(self, key: str) -> _Caller:
        now = self.clock()
        found = self._callers.get(key)
        if found is None:
            found = self._callers[key] = _Caller(tokens=float(self.burst), refreshed=now)
            while len(self._callers) > self.capacity:
                oldest, state = next(iter(self._callers.items()))
                if state.in_flight:
                    break
                del self._callers[oldest]
        else:
            self._callers.move_to_end(key)
            found.tokens = min(self.burst, found.tokens + (now - found.refreshed) * self.rate)
            found.refreshed = now
        return found

    @contextlib.contextmanager
    def slot(self, key: str) -> Iterator[None]:
        """A place for one request of ``key``, or ``TooBusy`` at once."""
        caller = self._caller(key)
        if caller.in_flight >= self.max_concurrent:
            raise TooBusy(f"At most {self.max_concurrent} requests of one caller run at once.", 1)
        if caller.tokens < 1:
            wait = max(1, int((1 - caller.tokens) / self.rate) + 1)
            raise TooBusy(f"At most {self.rate:g} requests a second per caller.", wait)
        caller.tokens -= 1
        caller.in_flight += 1
        try:
            yield
        finally:
            caller.in_flight -= 1
