"""What the process knows of its databases, without a process object: the topology compiled
from settings (``topology``), the replicas' health (``replica_monitor``, ``wal``,
``own_connection``), this context's read-your-writes pins (``pins``) and how a database that
does not exist is recognised (``missing_database``). Built and held by ``django_cfg.runtime``;
nothing here imports a layer above ``settings``."""
