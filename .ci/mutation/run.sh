#!/usr/bin/env bash
# Mutation-test one module: `.ci/mutation/run.sh leases` reads .ci/mutation/leases.toml,
# runs every mutant against that config's test command and prints the survivors.
# The session database is kept in .mutation/NAME.sqlite (see docs/MUTATION.md).
set -euo pipefail
name=$1
config=.ci/mutation/$name.toml
session=.mutation/$name.sqlite
bin=.venv/bin
mkdir -p .mutation
rm -f "$session"
$bin/cosmic-ray init "$config" "$session"
$bin/python .ci/mutation/skip_annotations.py "$session"
$bin/cr-filter-operators "$session" "$config"
# cosmic-ray mutates the module in place; put it back even if the run is interrupted.
module=$($bin/python -c "import sys, tomllib; print(tomllib.load(open(sys.argv[1], 'rb'))['cosmic-ray']['module-path'])" "$config")
if ! git diff --quiet -- "$module"; then
    echo "$module has uncommitted changes; commit them first (the run restores it from git)" >&2
    exit 1
fi
trap 'git checkout -- "$module"' EXIT
$bin/cosmic-ray exec "$config" "$session"
$bin/cr-report --show-pending "$session" | tail -n 3
$bin/python .ci/mutation/survivors.py "$session" "$module"
