"""``python manage.py demo_reclaim``: the ``make run`` demo's reclaim — team-one scales to 8 pods and
takes its 4 cpu back from team-two (scheduling/demo.py).

``make run`` runs it with ``--after-running``, so it happens on its own a short while after start-up;
``--reset`` scales team-one back to 4, after which a second ``demo_reclaim`` plays it again;
``--stop`` scales both teams to 0, freeing the sandbox's cpu for the rest of the demo.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from scheduling.demo import Demo


class Command(BaseCommand):
    help = "Scale the demo's team-one to 8 pods and report how it got its owned cpu back from team-two."

    def add_arguments(self, parser):
        parser.add_argument("--after-running", type=float, default=None, metavar="SECONDS",
                            help="First wait until team-one runs 4 pods and team-two 12, then this many seconds.")
        parser.add_argument("--reset", action="store_true",
                            help="Scale team-one back to 4 pods instead (team-two borrows its idle cpu again).")
        parser.add_argument("--stop", action="store_true",
                            help="Scale both teams to 0 pods: the seed case fills the cluster, this frees it.")
        parser.add_argument("--portal-url", default="", help="Printed before page paths, e.g. http://127.0.0.1:8000")
        parser.add_argument("--timeout", type=float, default=180.0, metavar="SECONDS",
                            help="Give up waiting for the pods after this long (exit code 1).")

    def handle(self, *args, after_running=None, reset=False, stop=False, portal_url="", timeout=180.0, **options):
        def say(message: str) -> None:
            self.stdout.write(message)
            self.stdout.flush()

        try:
            demo = Demo(say=say, portal_url=portal_url)
        except LookupError as exc:
            raise CommandError(str(exc)) from None
        if reset and stop:
            raise CommandError("--reset and --stop contradict each other: give one")
        if stop:
            done = demo.stop(timeout=timeout)
        elif reset:
            done = demo.reset(timeout=timeout)
        else:
            done = demo.reclaim(hold=after_running, timeout=timeout)
        if not done:
            raise CommandError("the demo did not get there; see the lines above")
