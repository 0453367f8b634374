"""Training workers started by an engine (torchrun, Kubeflow's PyTorchJob or TFJob, Ray, ...):
who this worker is, which Ignite node is its home, the one shard plan every worker of an attempt
agrees on, and the topology watch that ends an attempt when the data moves.

We supervise no process: the engine starts, rendezvous and restarts the workers. What only we
know is the cluster: partition maps, where the nodes are, and when the partitions move.

- :func:`worker_context` reads the engine's environment: rank, world size, local rank, the job's
  id and attempt (torchrun, ``RANK``/``WORLD_SIZE`` as Kubeflow's PyTorchJob sets them, or
  ``TF_CONFIG``).
- :func:`home_node` finds the Ignite node on this worker's own machine by matching the addresses
  the client reached the nodes at (either generation) against this host's addresses; where
  several nodes share a host the workers there are spread over them. ``IGNITE_FAST_HOME_NODE=host:port`` overrides it.
- :func:`agreed_plan` gives every worker the same :class:`~ignite_fast.sharding.ShardPlan`, one
  shard per rank, each preferring its rank's home: through the engine's collective where there
  is one (``torch.distributed``: every rank's home gathered, rank 0 plans, the plan broadcast),
  otherwise through a plan record in Ignite that the first writer creates and the others read
  (on IGFS for Ignite 2, in a table for Ignite 3). No worker counts a changing cache on its own.
- :func:`tf_config_from_torchrun` builds ``TF_CONFIG`` for ``MultiWorkerMirroredStrategy`` from
  torchrun's rendezvous (one launcher for both frameworks).
- :class:`TopologyWatch` raises :class:`~ignite_fast.errors.TopologyChangedError` once the
  cluster's affinity topology has left the plan's major version; a worker ends on it (exit
  status :data:`TOPOLOGY_CHANGED_EXIT_CODE` with :func:`exit_on_topology_change`) and the engine
  restarts the job. A client that tells no topology (Ignite 3) has none to watch.

One module per job: ``context``, ``home`` (with ``hosts``), ``plans`` (with ``records``),
``topology`` and ``tf_config``; their public names are importable from here.
"""

from .context import ATTEMPT_ENV, JOB_ID_ENV, WorkerContext, job_id_from_store, worker_context
from .home import HOME_ENV, NodeEndpoint, choose_home, cluster_nodes, home_node, on_this_host
from .hosts import is_this_host
from .plans import Collective, agreed_plan, plan_record_dir
from .records import (
    PLAN_RECORD_BACKUPS,
    PLAN_RECORD_MAX_AGE,
    PLAN_RECORDS,
    PLAN_TABLE,
    IgfsPlanRecords,
    PlanRecords,
    TablePlanRecords,
    plan_records,
    remove_stale_plan_records,
)
from .tf_config import tf_config_from_torchrun
from .topology import TOPOLOGY_CHANGED_EXIT_CODE, TopologyWatch, exit_on_topology_change

__all__ = [
    "ATTEMPT_ENV",
    "HOME_ENV",
    "JOB_ID_ENV",
    "PLAN_RECORDS",
    "PLAN_RECORD_BACKUPS",
    "PLAN_RECORD_MAX_AGE",
    "PLAN_TABLE",
    "TOPOLOGY_CHANGED_EXIT_CODE",
    "Collective",
    "IgfsPlanRecords",
    "NodeEndpoint",
    "PlanRecords",
    "TablePlanRecords",
    "TopologyWatch",
    "WorkerContext",
    "agreed_plan",
    "choose_home",
    "cluster_nodes",
    "exit_on_topology_change",
    "home_node",
    "is_this_host",
    "job_id_from_store",
    "on_this_host",
    "plan_record_dir",
    "plan_records",
    "remove_stale_plan_records",
    "tf_config_from_torchrun",
    "worker_context",
]
