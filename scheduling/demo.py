"""The scheduling demo of ``make run``: the seed case (seed_case.py) played in the demo organisation.

``acme/team-one`` (T1) and ``acme/team-two`` (T2) own 8 of the sandbox's 16 cpu each and team-two
may borrow 4 (their plans are in tenants/management/commands/load_demo.py). ``load_demo_workloads``
starts team-one's 4 pods and team-two's 12, which fill the cluster; ``demo_reclaim`` then scales
team-one to 8 and reports how it got its 4 cpu back, or (``--reset``) scales it down again so the
reclaim can be watched once more, or (``--stop``) scales both teams to 0 to free the cluster.
What it prints starts with "demo:", for the ``make run`` log.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from django.urls import reverse
from django.utils import timezone

from backends.errors import BackendError
from backends.kubernetes import KubernetesBackend
from tenants.models import Namespace
from tenants.services.clusters import cluster_backend

from .models import SchedulingDecision
from .seed_case import T1_PODS, T1_SCALED, T2_PODS, gated_deployment, running, terminating


@dataclass(frozen=True)
class DemoTeam:
    name: str
    path: str  # the tenant load_demo creates
    namespace: str
    deployment: str
    pods: int  # replicas at start-up


TEAM_ONE = DemoTeam("team-one", "acme/team-one", "team-one-apps", "web", T1_PODS)
TEAM_TWO = DemoTeam("team-two", "acme/team-two", "team-two-apps", "batch", T2_PODS)
# The victims' grace: long enough to watch team-one's new pods wait for them on its page (it
# refreshes every 5 s), short enough not to bore.
GRACE = 10

Say = Callable[[str], None]


def demo_workloads() -> list[dict]:
    """The Deployments at start-up, gated: the scheduler decides which pods run."""
    return [gated_deployment(team.deployment, team.namespace, team.pods, grace=GRACE) for team in (TEAM_ONE, TEAM_TWO)]


class Demo:
    """The two teams' namespaces in their cluster, and what a person watching should open."""

    def __init__(self, *, say: Say, portal_url: str = "") -> None:
        namespaces = {ns.name: ns for ns in Namespace.objects.select_related("cluster", "tenant").filter(
            name__in=[TEAM_ONE.namespace, TEAM_TWO.namespace])}
        missing = sorted({TEAM_ONE.namespace, TEAM_TWO.namespace} - set(namespaces))
        if missing:
            raise LookupError(f"no namespace {', '.join(missing)}: run `manage.py load_demo` first")
        self.one, self.two = namespaces[TEAM_ONE.namespace], namespaces[TEAM_TWO.namespace]
        self.cluster = self.one.cluster
        self.backend: KubernetesBackend = cluster_backend(self.cluster)
        self.say = say
        self.portal_url = portal_url.rstrip("/")

    def page(self, namespace: Namespace) -> str:
        return self.portal_url + reverse("scheduling:tenant", args=[namespace.tenant_id])

    def running(self, team: DemoTeam) -> int:
        return running(self.backend, team.namespace)

    def settled(self, one: int, two: int) -> bool:
        """Team-one runs ``one`` pods and team-two ``two``, and no pod of theirs is still terminating."""
        return (self.running(TEAM_ONE) == one and self.running(TEAM_TWO) == two
                and not terminating(self.backend, TEAM_ONE.namespace) and not terminating(self.backend,
                                                                                        TEAM_TWO.namespace))

    def reclaim(self, *, hold: float | None, timeout: float) -> bool:
        """Scale team-one to 8 and wait until it runs them; with ``hold``, first wait for the start
        (4 + 12 pods running) and then ``hold`` seconds more, so a person can look at the full cluster."""
        if hold is not None:
            self.say(f"demo: waiting for {TEAM_ONE.name}'s {T1_PODS} pods and {TEAM_TWO.name}'s {T2_PODS} to run "
                     "(the scheduler admits them)")
            if not _wait(lambda: self.settled(T1_PODS, T2_PODS), timeout):
                self.say(f"demo: after {timeout:.0f} s {TEAM_ONE.name} runs {self.running(TEAM_ONE)} pods and "
                         f"{TEAM_TWO.name} {self.running(TEAM_TWO)}, not {T1_PODS} and {T2_PODS}; giving up")
                return False
            self.say(f"demo: the sandbox's 16 cpu are full: {TEAM_ONE.name} runs {T1_PODS} pods of 1 cpu (it owns 8), "
                     f"{TEAM_TWO.name} {T2_PODS} (it owns 8 and borrows the 4 {TEAM_ONE.name} leaves idle). "
                     f"{TEAM_ONE.name} scales to {T1_SCALED} in {hold:.0f} s; watch {self.page(self.one)} "
                     f"and {self.page(self.two)} (log in as operator)")
            time.sleep(hold)
        self.say(f"demo: scaling {TEAM_ONE.name} to {T1_SCALED} pods; watch {self.page(self.one)}")
        scaled, began = timezone.now(), time.monotonic()
        self.backend.scale("apps/v1", "Deployment", TEAM_ONE.namespace, TEAM_ONE.deployment, T1_SCALED)
        if not _wait(lambda: self.settled(T1_SCALED, T2_PODS - (T1_SCALED - T1_PODS)), timeout):
            self.say(f"demo: after {timeout:.0f} s {TEAM_ONE.name} runs {self.running(TEAM_ONE)} of its "
                     f"{T1_SCALED} pods; see {self.page(self.one)}")
            return False
        self.say(f"demo: done {time.monotonic() - began:.1f} s after the scale: {self.outcome(since=scaled)}")
        return True

    def outcome(self, *, since) -> str:
        """What the scheduler decided since ``since``, from its decision log."""
        decisions = SchedulingDecision.objects.filter(cluster=self.cluster, at__gte=since)
        evicted = Counter(decisions.filter(action="EVICT", victim__startswith=f"{TEAM_TWO.namespace}/")
                          .values_list("reason", flat=True))
        admitted = Counter(decisions.filter(action="ADMIT", request__startswith=f"{TEAM_ONE.namespace}/")
                           .values_list("reason", flat=True))
        log = self.portal_url + reverse("admin:scheduling_schedulingdecision_changelist")
        return (f"{TEAM_ONE.name} runs {self.running(TEAM_ONE)} pods, {TEAM_TWO.name} {self.running(TEAM_TWO)}. "
                f"The scheduler evicted {sum(evicted.values())} of {TEAM_TWO.name}'s borrowed pods "
                f"({_counted(evicted)}) and admitted {TEAM_ONE.name}'s {sum(admitted.values())} new pods once "
                f"they were gone ({_counted(admitted)}; the victims' grace is {GRACE} s). Decisions: {log}")

    def reset(self, *, timeout: float) -> bool:
        """Team-one back to 4 pods (team-two's waiting pods borrow its idle 4 cpu again), and team-two
        back to its 12 if the demo was stopped."""
        self.say(f"demo: scaling {TEAM_ONE.name} back to {T1_PODS} pods; {TEAM_TWO.name}'s waiting pods borrow "
                 f"its idle cpu once its pods are gone")
        self.backend.scale("apps/v1", "Deployment", TEAM_ONE.namespace, TEAM_ONE.deployment, T1_PODS)
        self.backend.scale("apps/v1", "Deployment", TEAM_TWO.namespace, TEAM_TWO.deployment, T2_PODS)
        if not _wait(lambda: self.settled(T1_PODS, T2_PODS), timeout):
            self.say(f"demo: after {timeout:.0f} s {TEAM_ONE.name} runs {self.running(TEAM_ONE)} pods and "
                     f"{TEAM_TWO.name} {self.running(TEAM_TWO)}, not {T1_PODS} and {T2_PODS}")
            return False
        self.say(f"demo: reset: {TEAM_ONE.name} runs {T1_PODS} pods, {TEAM_TWO.name} {T2_PODS}; "
                 "`manage.py demo_reclaim` plays the reclaim again")
        return True


    def stop(self, *, timeout: float) -> bool:
        """Both teams to 0 pods: the seed case fills the sandbox, so nothing else scheduled there (an
        app-store install in another team's namespace) runs until its cpu is free again."""
        self.say(f"demo: scaling {TEAM_ONE.name} and {TEAM_TWO.name} to 0 pods; the sandbox's cpu is free for the "
                 "rest of the demo (`manage.py demo_reclaim --reset` starts the seed case again)")
        for team in (TEAM_ONE, TEAM_TWO):
            self.backend.scale("apps/v1", "Deployment", team.namespace, team.deployment, 0)
        if not _wait(lambda: self.settled(0, 0), timeout):
            self.say(f"demo: after {timeout:.0f} s {TEAM_ONE.name} still runs {self.running(TEAM_ONE)} pods and "
                     f"{TEAM_TWO.name} {self.running(TEAM_TWO)}")
            return False
        self.say("demo: stopped: both teams run 0 pods")
        return True


def _wait(predicate: Callable[[], bool], seconds: float, interval: float = 0.5) -> bool:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if predicate():
                return True
        except BackendError:  # the cluster did not answer this time: ask again, until the deadline
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def _counted(reasons: Counter) -> str:
    return ", ".join(f"{n} × {reason}" for reason, n in sorted(reasons.items())) or "none"
