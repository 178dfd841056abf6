#!/bin/sh
# The hidden check: it decides success, and is never in the repository the agents see.
set -e
python3 -c "import biggest; assert biggest.biggest([1, 5, 3]) == 5 and biggest.biggest([-2, -7]) == -2"
