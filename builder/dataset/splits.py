"""Train/test split of BioHuman10M at subject or sequence level (paper, supplementary C).

No frame leaks between splits because whole subjects or whole sequences are assigned:

=============  ==========  ====================  =======================================
source         unit        test share            note
=============  ==========  ====================  =======================================
MotionPRO      sequence    20 % (8:2)
Human3.6M      subject     ~20 %
EMDB           subject     ~20 %
3DPW           sequence    ~20 %
BEDLAM         -           0 %                   training only (visual diversity)
DeepMimic      subject     30 %                  the embedded default: clips x Anny subjects
                                                 (3 of the 10 default subjects never seen in training)
other sources  sequence    20 %
=============  ==========  ====================  =======================================

Within a source, units are ranked by ``sha256(salt/source/unit)`` and the first
``round(share x n)`` (at least one when there are two or more units) go to test. The
assignment depends only on the set of units and the salt, and the build stores it in
``splits.json``; a stored assignment can be passed back to reproduce a split exactly.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from builder.io import write_text_atomic

SPLITS = ("train", "test")
DEFAULT_SALT = "biohuman10m-v1"


@dataclass(frozen=True)
class SplitRule:
    """How one source is split: by "subject" or "sequence", with this share of units in test."""

    unit: str
    test_share: float


SPLIT_RULES: dict[str, SplitRule] = {
    "motionpro": SplitRule("sequence", 0.2),
    "human36m": SplitRule("subject", 0.2),
    "emdb": SplitRule("subject", 0.2),
    "3dpw": SplitRule("sequence", 0.2),
    "bedlam": SplitRule("sequence", 0.0),
    "deepmimic": SplitRule("subject", 0.3),
}
DEFAULT_RULE = SplitRule("sequence", 0.2)
"""Rule of sources not listed (BVH files and other user motions among them)."""


def source_key(source: str) -> str:
    """Canonical source name: lower case, letters and digits only ("Human3.6M" -> "human36m")."""
    return re.sub(r"[^a-z0-9]", "", source.lower())


def rule_for(source: str) -> SplitRule:
    return SPLIT_RULES.get(source_key(source), DEFAULT_RULE)


def _rank(salt: str, source: str, unit: str) -> str:
    return hashlib.sha256(f"{salt}/{source_key(source)}/{unit}".encode()).hexdigest()


def assign_splits(sequences: Iterable[tuple[str, str, str]], salt: str = DEFAULT_SALT) -> dict[str, str]:
    """Split of each sequence, given ``(sequence_id, source, subject)`` triples."""
    units_by_source: dict[str, set[str]] = defaultdict(set)
    unit_of: dict[str, tuple[str, str]] = {}
    for sequence_id, source, subject in sequences:
        if sequence_id in unit_of:
            raise ValueError(f"sequence id {sequence_id!r} appears twice")
        unit = str(subject) if rule_for(source).unit == "subject" else sequence_id
        units_by_source[source_key(source)].add(unit)
        unit_of[sequence_id] = (source, unit)
    test_units: set[tuple[str, str]] = set()
    for source, units in units_by_source.items():
        share = rule_for(source).test_share
        count = round(share * len(units))
        if share > 0 and len(units) >= 2:
            count = min(max(count, 1), len(units) - 1)
        ranked = sorted(units, key=lambda unit: _rank(salt, source, unit))
        test_units.update((source, unit) for unit in ranked[:count])
    return {sequence_id: "test" if (source_key(source), unit) in test_units else "train"
            for sequence_id, (source, unit) in sorted(unit_of.items())}


def write_splits(path: Path, assignment: dict[str, str], salt: str) -> None:
    """Store an assignment with the rules that made it (``splits.json``)."""
    rules = {name: vars(rule) for name, rule in SPLIT_RULES.items()} | {"default": vars(DEFAULT_RULE)}
    text = json.dumps({"salt": salt, "rules": rules, "assignment": dict(sorted(assignment.items()))}, indent=1)
    write_text_atomic(path, text + "\n")


def read_splits(path: Path) -> dict[str, str]:
    """The sequence -> split assignment stored in ``path``."""
    try:
        assignment = json.loads(Path(path).read_text())["assignment"]
    except (OSError, ValueError, KeyError) as error:
        raise ValueError(f"{path}: not a splits file ({error})") from None
    bad = {split for split in assignment.values() if split not in SPLITS}
    if bad:
        raise ValueError(f"{path}: unknown splits {sorted(bad)}; expected {SPLITS}")
    return assignment
