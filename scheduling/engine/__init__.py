"""Pure scheduling policy engine (standard library only).  See ``engine.decide``."""

from .engine import clear_gates, collector_paused, decide, finish, release, set_capacity, submit, switch_config
from .model import Allocation, Config, Decision, Node, Plan, Request, Settings, State, Status, explain_all

__all__ = [
    "Allocation", "Config", "Decision", "Node", "Plan", "Request", "Settings", "State", "Status",
    "clear_gates", "collector_paused", "decide", "explain_all", "finish", "release", "set_capacity", "submit",
    "switch_config",
]
