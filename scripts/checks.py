"""The tally the check scripts share: `check` counts a comparison, `finish` reports and exits."""

import sys

results = {"passed": 0, "failed": 0}


def check(name, got, want):
    """Counts `got == want`; prints both (cut to 300 characters each) when they differ."""
    if got == want:
        results["passed"] += 1
    else:
        results["failed"] += 1
        shown = lambda v: (repr(v)[:300] + "...") if len(repr(v)) > 300 else repr(v)
        print(f"FAILED {name}: got {shown(got)}, want {shown(want)}")


def finish(label):
    """Prints the tally under `label` and exits 1 if any check failed."""
    print(f"{label}: {results['passed']} passed, {results['failed']} failed")
    sys.exit(1 if results["failed"] else 0)
