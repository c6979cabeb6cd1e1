"""The console's failed-login throttle: it slows a guessed password down and keeps its memory bounded."""
from __future__ import annotations

from tsunagi.web import throttle
from tsunagi.web.throttle import FREE_FAILURES, MAX_DELAY_SECONDS, Throttle


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_flood_of_made_up_names_keeps_the_memory_bounded_and_its_address_slowed():
    t = Throttle(max_keys=100)
    for n in range(5000):
        t.failed([f"nobody-{n}", "192.0.2.7"])
    assert t.remembered() <= 100
    assert t.delay(["someone-new", "192.0.2.7"]) == MAX_DELAY_SECONDS


def test_a_name_failing_again_outlives_the_older_made_up_ones():
    t = Throttle(max_keys=10)
    for _ in range(FREE_FAILURES):
        t.failed(["admin"])
    for n in range(8):
        t.failed([f"nobody-{n}"])
    t.failed(["admin"])                      # the name under attack is tried again: newest now
    for n in range(8, 14):
        t.failed([f"nobody-{n}"])
    assert t.delay(["admin"]) == 2.0         # FREE_FAILURES + 1 failures remembered


def test_a_quiet_quarter_of_an_hour_forgets_the_failures(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(throttle.time, "monotonic", clock)
    t = Throttle()
    for _ in range(FREE_FAILURES + 2):
        t.failed(["staff"])
    assert t.delay(["staff"]) == 4.0
    clock.now += throttle.FORGET_SECONDS
    t.failed(["other"])                      # any failure sweeps the quiet ones out
    assert t.delay(["staff"]) == 0.0 and t.remembered() == 1


def test_a_success_clears_the_name_and_the_address():
    t = Throttle()
    for _ in range(FREE_FAILURES + 1):
        t.failed(["staff", "127.0.0.1"])
    t.succeeded(["staff", "127.0.0.1"])
    assert t.delay(["staff", "127.0.0.1"]) == 0.0 and t.remembered() == 0


def test_thousands_of_failures_wait_the_longest_and_never_raise():
    t = Throttle()
    for _ in range(3000):
        t.failed(["admin", "192.0.2.9"])
    assert t.delay(["admin"]) == MAX_DELAY_SECONDS
