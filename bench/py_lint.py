#!/usr/bin/env python3
"""What a user would write instead of `plan lint`: load the plan with PyYAML's C
loader and validate it with the `jsonschema` package against plan's own schema.

usage: py_lint.py PLAN.yaml   (exit 0 when valid, 1 when not)
"""
import json
import os
import sys

import jsonschema
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

with open(os.path.join(ROOT, "schema", "plan.schema.json")) as f:
    schema = json.load(f)
with open(sys.argv[1]) as f:
    plan = yaml.load(f, Loader=yaml.CSafeLoader)
errors = list(jsonschema.Draft7Validator(schema).iter_errors(plan))
for e in errors[:10]:
    print(f"{'/'.join(map(str, e.absolute_path))}: {e.message}", file=sys.stderr)
sys.exit(1 if errors else 0)
