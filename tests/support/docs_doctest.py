"""Runs the ```pycon examples of a Markdown page as doctests inside the Django project in cwd.

    cd examples/saas && python ../../tests/support/docs_doctest.py ../../docs/routing.md

Exits 1 when an example fails or the page has none.
"""

import doctest
import os
import re
import sys
from pathlib import Path

import django

sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "api.settings")
django.setup()

page = Path(sys.argv[1])
examples = re.findall(r"^```pycon\n(.*?)^```$", page.read_text(), re.M | re.S)
test = doctest.DocTestParser().get_doctest("\n".join(examples), {}, page.name, str(page), 0)
runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
runner.run(test)
result = runner.summarize(verbose=False)
print(f"{page.name}: {result.attempted} examples, {result.failed} failed")
sys.exit(1 if result.failed or not result.attempted else 0)
