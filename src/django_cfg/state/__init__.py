"""What the process knows of its databases, without a process object: the topology compiled
from settings (``topology``), the replicas' health (``replica_monitor``, ``wal``,
``own_connection``) and this context's read-your-writes pins (``pins``). Built and held by
``django_cfg.runtime``; nothing here imports a layer above ``settings``."""
