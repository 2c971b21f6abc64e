"""One process: django.setup() of the example project; prints its peak RSS (KiB) as JSON, and
with DJANGO_CFG_TRACEMALLOC=1 the peak of Python's own allocations (tracemalloc, bytes).

cd examples/saas && DJANGO_SETTINGS_MODULE=api.settings python setup_once.py
"""

import json
import os
import resource
import tracemalloc

traced = os.environ.get("DJANGO_CFG_TRACEMALLOC") == "1"
if traced:
    tracemalloc.start()

import django  # noqa: E402

django.setup()
result = {"max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
if traced:
    result["traced_peak_bytes"] = tracemalloc.get_traced_memory()[1]
print(json.dumps(result))
