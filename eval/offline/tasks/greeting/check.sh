#!/bin/sh
# The hidden check: it decides success, and is never in the repository the agents see.
set -e
[ "$(cat greeting.txt)" = goodbye ]
