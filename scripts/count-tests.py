#!/usr/bin/env python3
"""Counts results in Meson test logs: each GoogleTest case counts once (from its
"[  PASSED  ]"/"[  FAILED  ]" summary), any other test counts once by its result.
Prints "N passed, N failed" for the logs given."""
import json
import re
import sys

passed = failed = skipped = 0
for path in sys.argv[1:]:
    try:
        log = open(path, encoding="utf-8")
    except OSError:
        failed += 1  # that build never got to run its tests
        continue
    with log:
        for line in log:
            entry = json.loads(line)
            out = entry.get("stdout") or ""
            result = entry.get("result")
            ok = re.search(r"^\[  PASSED  \] (\d+) tests?", out, re.M)
            bad = re.search(r"^\[  FAILED  \] (\d+) tests?, listed below", out, re.M)
            skip = re.search(r"^\[  SKIPPED \] (\d+) tests?", out, re.M)
            if ok or bad:
                passed += int(ok.group(1)) if ok else 0
                failed += int(bad.group(1)) if bad else 0
                skipped += int(skip.group(1)) if skip else 0
                if result not in ("OK", "SKIP", "EXPECTEDFAIL") and not bad:
                    failed += 1  # crashed or timed out after its cases ran
            elif result == "SKIP":
                skipped += 1
            elif result in ("OK", "EXPECTEDFAIL"):
                passed += 1
            else:
                failed += 1
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
