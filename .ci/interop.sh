#!/usr/bin/env bash
# Interop with the official Python Stash client: installs it (pinned) into .venv/ (gitignored),
# then runs tests/interop/python_interop.ts against the embedded server.
# Ends with Deno's summary line ("ok | N passed | M failed ..." or "FAILED | ...").
#
# Without any Python the tests are reported as ignored, with the reason. A Python that cannot
# create the virtualenv or install the package is a failure: CI has Python and PyPI.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

STASH_CLIENT_VERSION=0.2.0 # pip index versions stash-client: 0.2.0, 0.1.1, 0.1.0
VENV=.venv
TIME_LIMIT=${INTEROP_TIME_LIMIT:-900} # seconds for the whole Deno run

fail() {
  echo "interop: $*" >&2
  echo "interop: 0 passed, 1 failed"
  exit 1
}

python=""
for candidate in python3 python; do
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
    python=$candidate
    break
  fi
done

if [ -z "$python" ]; then
  echo "interop: no Python 3.10+ found; the Python interop tests will be skipped"
  export STASH_INTEROP_SKIP="no Python 3.10+ (python3) on this machine"
else
  venv_python="$VENV/bin/python"
  if ! "$venv_python" -c 'import sys' >/dev/null 2>&1; then
    echo "::: interop: creating $VENV with $("$python" --version 2>&1)"
    rm -rf "$VENV"
    "$python" -m venv "$VENV" || fail "could not create a virtualenv in $VENV with $python"
  fi
  installed=$("$venv_python" -m pip show stash-client 2>/dev/null | sed -n 's/^Version: //p')
  if [ "$installed" != "$STASH_CLIENT_VERSION" ]; then
    echo "::: interop: pip install stash-client==$STASH_CLIENT_VERSION"
    PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 \
      "$venv_python" -m pip install --quiet "stash-client==$STASH_CLIENT_VERSION" ||
      fail "pip could not install stash-client==$STASH_CLIENT_VERSION"
  fi
  "$venv_python" -c 'import stash' || fail "stash-client is installed but 'import stash' fails"
  installed=$("$venv_python" -m pip show stash-client 2>/dev/null | sed -n 's/^Version: //p')
  echo "::: interop: stash-client $installed on $("$venv_python" --version 2>&1)"
  STASH_INTEROP_PYTHON="$(pwd)/$venv_python"
  export STASH_INTEROP_PYTHON
fi

run=(deno test -A tests/interop/python_interop.ts)
if command -v timeout >/dev/null 2>&1; then
  run=(timeout --kill-after=10 "$TIME_LIMIT" "${run[@]}")
fi
"${run[@]}"
status=$?
if [ $status -eq 124 ] || [ $status -eq 137 ]; then
  fail "the interop tests did not finish within ${TIME_LIMIT}s"
fi
exit $status
