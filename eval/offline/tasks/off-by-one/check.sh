#!/bin/sh
# The hidden check: it decides success, and is never in the repository the agents see.
set -e
python3 -c "import count; assert count.upto(3) == [1, 2, 3] and count.upto(1) == [1] and count.upto(0) == []"
