"""``TF_CONFIG`` for ``MultiWorkerMirroredStrategy`` from torchrun's rendezvous: one launcher for
both frameworks."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Mapping
from typing import Any

from ignite_fast.errors import IgniteTimeoutError, InvalidArgumentError

from .context import worker_context


def _address_towards(peer: str) -> str:
    """This host's address on the route to ``peer`` (no packet is sent)."""
    try:
        family = socket.AF_INET6 if ":" in peer else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((peer, 9))
            return str(probe.getsockname()[0])
    except OSError:
        return socket.getfqdn()


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def tf_config_from_torchrun(environ: Mapping[str, str] | None = None, timeout: float = 300.0) -> dict[str, Any]:
    """Sets ``TF_CONFIG`` for ``tf.distribute.MultiWorkerMirroredStrategy`` in a worker that
    torchrun started, and returns it: every rank picks a free port on its host, the addresses
    are exchanged through the torch.distributed store torchrun's rendezvous set up
    (``MASTER_ADDR:MASTER_PORT``), and rank ``r`` becomes worker ``r``. Call it before making
    the strategy. No process group is made (PyTorch's store is all it uses).

    Needs ``TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1`` for the agents: torchrun's shared store
    outlives restarts, and restarted workers would read the previous attempt's addresses."""
    env = os.environ if environ is None else environ
    context = worker_context(env)
    if context.engine != "torchrun" or not env.get("MASTER_ADDR") or not env.get("MASTER_PORT"):
        raise InvalidArgumentError("tf_config_from_torchrun needs a worker that torchrun started")
    if env.get("TORCHELASTIC_USE_AGENT_STORE") == "True":
        raise InvalidArgumentError(
            "torchrun shares its rendezvous store with the workers and keeps it across restarts, so "
            "restarted workers would read stale addresses: start torchrun with TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1"
        )
    from datetime import timedelta

    import torch.distributed as dist  # only its store: no process group, no CUDA

    master, port = env["MASTER_ADDR"], int(env["MASTER_PORT"])
    store = dist.TCPStore(
        master,
        port,
        context.world_size,
        is_master=context.rank == 0,  # without the agent's store, rank 0 serves it, as init_process_group does
        timeout=timedelta(seconds=timeout),
        wait_for_workers=False,
    )
    exchange = dist.PrefixStore("ignite_fast/tf_config", store)
    host = _address_towards(master)
    address = f"[{host}]:{_free_port(host)}" if ":" in host else f"{host}:{_free_port(host)}"
    exchange.set(str(context.rank), address)
    workers = [exchange.get(str(rank)).decode() for rank in range(context.world_size)]
    # Rank 0 serves the store: it stays until every rank has read every address.
    exchange.add("read", 1)
    deadline = time.monotonic() + timeout
    while context.rank == 0 and exchange.add("read", 0) < context.world_size:
        if time.monotonic() > deadline:
            raise IgniteTimeoutError(f"waited {timeout:.0f} s for every rank to read the TF_CONFIG addresses")
        time.sleep(0.05)
    config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": context.rank}}
    if environ is None:
        os.environ["TF_CONFIG"] = json.dumps(config)
    return config
