"""The guide's three Iris examples and the class each must get: demo, smoke test and tests share them."""
from __future__ import annotations

from typing import NamedTuple


class Example(NamedTuple):
    features: list[float]  # sepal_length, sepal_width, petal_length, petal_width (cm)
    expected_class: int
    species: str


EXAMPLES: tuple[Example, ...] = (
    Example([5.1, 3.5, 1.4, 0.2], 0, "setosa"),
    Example([6.2, 2.9, 4.3, 1.3], 1, "versicolor"),
    Example([7.7, 3.0, 6.1, 2.3], 2, "virginica"),
)


def instances_request() -> dict:
    """The request body the guide prints: {"instances": [[...], [...], [...]]}."""
    return {"instances": [e.features for e in EXAMPLES]}


def expected_classes() -> list[int]:
    return [e.expected_class for e in EXAMPLES]
