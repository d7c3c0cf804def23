"""common_nn entries (or entry checks) ember does not pass yet, each with its reason.

Keys are test_common_nn's entry names; each value maps the failing check ("build", "train", "gradgrad",
"repr", "pickle", "eval") to its reason. test_common_nn fails when a listed check passes, so this list
cannot go stale."""
GAPS: dict = {}
