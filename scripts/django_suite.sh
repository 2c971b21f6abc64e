#!/usr/bin/env bash
# Django's own tests, run with django_cfg's app, router and patches installed (launcher:
# tests/django_suite/run.py):
# - multiple_database, with Django's second database `other` a copy of `default`
#   (tests/django_suite/settings.py);
# - admin_changelist, admin_views, admin_utils, delete, delete_regress and prefetch_related, with
#   one ForeignKey across databases beside Django's models, so that every patch for relations
#   across databases is installed (tests/django_suite/crossing_settings.py).
# Django's tests are not in its wheel: the sdist of the installed Django version is downloaded
# from PyPI once and cached under .cache/django-suite/ (git-ignored). Extra arguments go to both
# runtests.py runs. Once the download is cached: about 45 s of CPU on Django 5.2, 55 s on 6.1.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
PY=${PY:-${VENV:-.venv}/bin/python}
version=$("$PY" -c "import django; print(django.__version__)")
cache=.cache/django-suite
src="$cache/django-$version"
if [[ ! -f "$src/tests/runtests.py" ]]; then
  mkdir -p "$cache/download-$version"
  "$PY" -m pip download --quiet --no-binary :all: --no-deps "django==$version" \
    -d "$cache/download-$version"
  archive=$(ls "$cache/download-$version"/[Dd]jango-"$version".tar.gz)
  rm -rf "$src.partial" && mkdir -p "$src.partial"
  tar -xzf "$archive" -C "$src.partial" --strip-components=1 --wildcards '*/tests/*'
  mv "$src.partial" "$src"
  rm -rf "$cache/download-$version"
fi
echo "Django $version: tests/runtests.py multiple_database with django_cfg's router"
"$PY" "$root/tests/django_suite/run.py" "$src/tests" multiple_database \
  --settings=tests.django_suite.settings --parallel=1 --noinput "$@"
echo "Django $version: tests/runtests.py admin and delete suites with a ForeignKey across databases"
"$PY" "$root/tests/django_suite/run.py" "$src/tests" admin_changelist admin_views admin_utils \
  delete delete_regress prefetch_related \
  --settings=tests.django_suite.crossing_settings --parallel=1 --noinput "$@"
