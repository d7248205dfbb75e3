"""The exercises' common protocol: the error a wrong answer raises, the ✅ / ❌ messages, and the
predict-then-look check."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class ExerciseError(AssertionError):
    """The learner's answer differs from the reference; the message says how and gives a hint."""


def _ok(message: str) -> None:
    print(f"\u2705 {message}")


def _fail(message: str, hint: str) -> ExerciseError:
    return ExerciseError(f"\u274c {message}\nHint: {hint}")


def three_numbers(answer: Any, shape: str, hint: str) -> tuple[float, float, float]:
    """``answer`` as ``(estimate, ci_low, ci_high)`` floats; anything else fails with ``shape`` and ``hint``."""
    try:
        got = tuple(float(v) for v in answer)
    except (TypeError, ValueError):
        got = ()
    if len(got) != 3:
        raise _fail(f"answer must be {shape}, got {answer!r}.", hint)
    return got[0], got[1], got[2]


def check_prediction(
    prediction: str | None,
    *,
    observed: str,
    options: Sequence[str],
    explanation: str = "",
    strict: bool = False,
) -> bool:
    """Compare a predict-then-run answer with what the run showed.

    Args:
        prediction: the learner's choice, one of ``options``.
        observed: what the experiment in the notebook actually produced (computed, not typed).
        options: the allowed answers.
        explanation: printed after the verdict (why the result came out this way).
        strict: a wrong answer raises :class:`ExerciseError` (use it where the answer is a
            deterministic fact the learner can work out, not a noisy measurement); otherwise a
            wrong guess only prints a prompt to look again.

    Returns:
        True when the prediction matched.

    Raises:
        ExerciseError: when ``prediction`` is missing or not one of ``options``, or wrong with ``strict``.
    """
    if prediction is None or prediction not in options:
        raise _fail(f"Your prediction {prediction!r} is not one of the options.", f"set it to one of {list(options)}.")
    matched = prediction == observed
    if matched:
        _ok(f"Your prediction {prediction!r} matches what the run shows.")
    elif strict:
        raise _fail(f"You answered {prediction!r}; the computation gives {observed!r}.", explanation or "look again.")
    else:
        print(f"\U0001f914 You predicted {prediction!r}; this run shows {observed!r}. Worth a second look.")
    if explanation:
        print(explanation)
    return matched
