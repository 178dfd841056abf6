#!/bin/sh
# The hidden check: it decides success, and is never in the repository the agents see.
set -e
grep -q 'will receive messages' README.md
