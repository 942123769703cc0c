"""Hypothesis settings profiles: `ci` (what CI runs), `dev` (default locally), `nightly`.

Choose with HYPOTHESIS_PROFILE; CI=true selects `ci` when the variable is unset.
"""

import os

from hypothesis import HealthCheck, settings

_common = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("ci", max_examples=60, derandomize=True, print_blob=True, **_common)
settings.register_profile("dev", max_examples=200, **_common)
settings.register_profile("nightly", max_examples=2000, **_common)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
