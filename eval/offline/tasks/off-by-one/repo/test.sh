#!/bin/sh
# The task's visible test.
set -e
python3 -c "import count; assert count.upto(3) == [1, 2, 3]"
