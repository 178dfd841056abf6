#!/bin/sh
# The task's visible test.
set -e
grep -q -- '--debug' run.sh
