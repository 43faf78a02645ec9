"""``python manage.py sandbox --port 6443 --kubeconfig var/sandbox.kubeconfig --nodes 4`` (foreground)."""

from __future__ import annotations

import contextlib
import signal
import threading

from django.core.management.base import BaseCommand

from sandbox.testing import running_sandbox


class Command(BaseCommand):
    help = "Run the sandbox Kubernetes API (in memory; a restart starts empty) until interrupted."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=6443)
        parser.add_argument("--kubeconfig", default="var/sandbox.kubeconfig", help="where to write a kubeconfig")
        parser.add_argument("--nodes", type=int, default=4)
        parser.add_argument("--node-cpu", default="4")
        parser.add_argument("--node-memory", default="16Gi")
        parser.add_argument("--node-gpu", type=int, default=0, help="GPUs per node (nvidia.com/gpu)")

    def handle(self, *args, host, port, kubeconfig, nodes, node_cpu, node_memory, node_gpu, **options):
        from pathlib import Path

        Path(kubeconfig).parent.mkdir(parents=True, exist_ok=True)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with running_sandbox(nodes=nodes, cpu=node_cpu, memory=node_memory, gpu=node_gpu, host=host, port=port,
                             kubeconfig=kubeconfig, tick=0.1) as sb:
            self.stdout.write(f"sandbox Kubernetes API on {sb.url} ({nodes} nodes); kubeconfig: {kubeconfig}")
            self.stdout.flush()
            with contextlib.suppress(KeyboardInterrupt):
                stop.wait()
