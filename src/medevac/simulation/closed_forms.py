"""Closed-form results of classic queues, used to validate the simulation.

Written out here because they are three short formulas; no maintained library ships all of
them with the conventions used in the tests.
"""

from __future__ import annotations


def erlang_b(servers: int, offered_load: float) -> float:
    """Probability that an arrival finds all ``servers`` busy in an M/G/c/c loss system.

    ``offered_load`` is arrival rate x mean service time (Erlangs). Uses the stable recursion
    B(0) = 1, B(k) = a B(k-1) / (k + a B(k-1)).
    """
    if servers < 0 or offered_load < 0:
        raise ValueError("servers and offered_load must be >= 0")
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = offered_load * blocking / (k + offered_load * blocking)
    return blocking


def erlang_c(servers: int, offered_load: float) -> float:
    """Probability that an arrival has to wait in an M/M/c queue (needs load < servers)."""
    if servers < 1:
        raise ValueError("servers must be >= 1")
    if not 0 <= offered_load < servers:
        raise ValueError("offered_load must be in [0, servers) for a stable queue")
    blocking = erlang_b(servers, offered_load)
    utilisation = offered_load / servers
    return blocking / (1.0 - utilisation * (1.0 - blocking))


def erlang_c_mean_wait(servers: int, arrival_rate: float, mean_service: float) -> float:
    """Mean time in queue of an M/M/c queue: C(c, a) / (c mu - lambda)."""
    offered_load = arrival_rate * mean_service
    service_rate = 1.0 / mean_service
    return erlang_c(servers, offered_load) / (servers * service_rate - arrival_rate)
