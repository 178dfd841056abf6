#!/bin/sh
# The hidden check: it decides success, and is never in the repository the agents see.
set -e
grep -q -- '--debug' run.sh && ! grep -q -- '--verbose' run.sh && grep -q -- 'run.sh --debug' USAGE.md
