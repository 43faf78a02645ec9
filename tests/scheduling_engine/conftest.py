"""Hypothesis profiles for the engine's properties.

``default`` keeps the whole directory well under 90 s on two slow cores; ``thorough`` is the
specification's scale (≥ 200 passes per example): ``HYPOTHESIS_PROFILE=thorough pytest …``.
"""

import os

from hypothesis import HealthCheck, Phase, settings

settings.register_profile(
    "default", max_examples=20, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "thorough", max_examples=300, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(  # while debugging: report the first failure unshrunk
    "noshrink", max_examples=20, deadline=None, derandomize=True, phases=(Phase.explicit, Phase.generate),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# Steps (passes) per generated stream in the property tests.
STEPS = int(os.environ.get("ENGINE_PROPERTY_STEPS", "40"))
