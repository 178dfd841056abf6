#!/bin/sh
# The task's visible test.
set -e
python3 -c "import temp; assert temp.to_fahrenheit(100) == 212"
