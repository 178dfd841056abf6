#!/bin/sh
# The task's visible test.
set -e
python3 -c "import biggest; assert biggest.biggest([1, 5, 3]) == 5"
