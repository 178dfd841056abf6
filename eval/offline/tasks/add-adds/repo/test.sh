#!/bin/sh
# The task's visible test.
set -e
python3 -c "import calc; assert calc.add(2, 3) == 5"
