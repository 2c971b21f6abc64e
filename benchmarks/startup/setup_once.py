"""One process: django.setup() of the example project; prints its peak RSS (KiB) as JSON.

cd examples/saas && DJANGO_SETTINGS_MODULE=api.settings python setup_once.py
"""

import json
import resource

import django

django.setup()
print(json.dumps({"max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
