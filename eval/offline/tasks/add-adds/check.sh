#!/bin/sh
# The hidden check: it decides success, and is never in the repository the agents see.
set -e
python3 -c "import calc; assert calc.add(2, 3) == 5 and calc.add(-1, 1) == 0 and calc.add(0, 0) == 0"
