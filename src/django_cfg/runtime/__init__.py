"""The one process object, ``DatabaseRuntime`` (``runtime``), the state it carries from one
rebuild to the next (``process_state``), and databases added or removed while the process runs
(``added_databases``)."""
