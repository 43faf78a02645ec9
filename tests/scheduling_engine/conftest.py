"""Hypothesis profiles for the engine's properties.

``default`` keeps the whole directory well under a minute on two slow cores; ``thorough`` is the
specification's scale (§11.3: trees of depth ≤ 5 with ≤ 15 nodes and ≤ 3 resources, ≥ 200 passes
per example): ``HYPOTHESIS_PROFILE=thorough pytest …``.
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
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "default")
settings.load_profile(PROFILE)
THOROUGH = PROFILE == "thorough"

# Passes per generated stream in the property tests (the specification asks for ≥ 200).
STEPS = int(os.environ.get("ENGINE_PROPERTY_STEPS", "200" if THOROUGH else "40"))

# Generated trees: the specification's sizes in the thorough profile; the default profile stays a
# little smaller so that ``make test`` stays quick.
TREE_SIZE = (
    {"max_nodes": 15, "max_depth": 5, "max_resources": 3} if THOROUGH
    else {"max_nodes": 12, "max_depth": 4, "max_resources": 2}
)
