#!/bin/sh
# The hidden check: it decides success, and is never in the repository the agents see.
set -e
python3 -c "import temp; assert temp.to_fahrenheit(100) == 212 and temp.to_fahrenheit(0) == 32 and temp.to_fahrenheit(-40) == -40"
