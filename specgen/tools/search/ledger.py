"""Which architectures a search has evaluated, and with what result: the record that keeps an
objective from ever being called twice on one architecture, in one process (`LocalLedger`)
and across workers sharing an Optuna storage (`StorageLedger`).

A worker about to evaluate an architecture *claims* it.  The claim is atomic: in a storage it
is the creation of a small study named `<study>:architecture:<key>` (a storage refuses a
second study of one name, whatever the database), which then holds the owner's trial number
and, once the objective has answered, the result.  A worker whose claim is refused reuses
the stored result, or waits for it while the owner's trial is running; if the owner's trial
ends without a result (its objective raised, or its process was stopped and the trial
failed), the waiting worker takes the claim over."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

POLL_SECONDS = 0.2  # how often a worker waiting for another's result looks again


@dataclass(frozen=True)
class Outcome:
    """What the objective gave for an architecture: `state` "complete" with its `values`,
    or "pruned" (`values`: the last value reported, or empty); `curve` holds the
    intermediate values reported, as (step, value); `number` is the trial that evaluated it."""

    state: str
    values: tuple[float, ...]
    number: int
    curve: tuple[tuple[int, float], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"state": self.state, "values": list(self.values), "number": self.number,
                "curve": [list(p) for p in self.curve]}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Outcome:
        curve = tuple((int(step), float(value)) for step, value in data.get("curve", ()))
        return cls(data["state"], tuple(data["values"]), data["number"], curve)


class LocalLedger:
    """The record of one process's search (no storage): a dict."""

    def __init__(self) -> None:
        self._done: dict[str, Outcome] = {}

    def claim(self, key: str, number: int) -> Outcome | None:
        """The stored outcome of `key`, or None: then trial `number` evaluates it."""
        return self._done.get(key)

    def finish(self, key: str, outcome: Outcome) -> None:
        self._done[key] = outcome

    def release(self, key: str, number: int) -> None:
        """Trial `number` ends without a result: the architecture is free again."""
        self._done.pop(key, None)


class StorageLedger:
    """The record of a search in an Optuna storage, shared by every worker of the study."""

    def __init__(
        self,
        optuna: Any,
        storage: Any,
        study_name: str,
    ) -> None:
        self.optuna = optuna
        self.storage = storage
        self.study_id = storage.get_study_id_from_name(study_name)
        self._prefix = f"{study_name}:architecture:"

    def claim(self, key: str, number: int) -> Outcome | None:
        """The outcome of `key` stored by any worker (waiting while another's trial is
        evaluating it), or None: then trial `number` holds the claim and evaluates it."""
        name = self._prefix + key
        claim_id = self._create(name)
        if claim_id is not None:
            self.storage.set_study_user_attr(claim_id, "owner", number)
            return None
        claim_id = self.storage.get_study_id_from_name(name)
        while True:
            attrs = self.storage.get_study_user_attrs(claim_id)
            if "outcome" in attrs:
                return Outcome.from_json(attrs["outcome"])
            owner = attrs.get("owner")
            # the owner's trial ended without a result: the first to claim the takeover from
            # that owner (again a study's creation: atomic) evaluates it
            if (
                owner is not None
                and (attrs.get("failed") == owner or not self._trial_running(owner))
                and self._create(f"{name}:after:{owner}") is not None
            ):
                self.storage.set_study_user_attr(claim_id, "owner", number)
                return None
            time.sleep(POLL_SECONDS)

    def _create(self, name: str) -> int | None:
        """A new study's id, or None when the storage holds one of that name already."""
        direction = [self.optuna.study.StudyDirection.MINIMIZE]
        try:
            return self.storage.create_new_study(direction, study_name=name)
        except self.optuna.exceptions.DuplicatedStudyError:
            return None

    def finish(self, key: str, outcome: Outcome) -> None:
        claim_id = self.storage.get_study_id_from_name(self._prefix + key)
        self.storage.set_study_user_attr(claim_id, "outcome", outcome.to_json())

    def release(self, key: str, number: int) -> None:
        """Trial `number` ends without a result: a waiting worker takes the claim over."""
        claim_id = self.storage.get_study_id_from_name(self._prefix + key)
        self.storage.set_study_user_attr(claim_id, "failed", number)

    def _trial_running(self, number: int) -> bool:
        if number < 0:
            return False
        try:
            trial_id = self.storage.get_trial_id_from_study_id_trial_number(self.study_id, number)
        except KeyError:
            return True  # not visible to this worker yet
        state = self.storage.get_trial(trial_id).state
        return state == self.optuna.trial.TrialState.RUNNING
