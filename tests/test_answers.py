"""The answer reader: the labelled corpus as a regression test, focused rules, and the baseline."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from rsmmvp_tasks.evaluation.answers import extract_choice, is_readable

CORPUS_PATH = Path(__file__).parent / "data" / "answer_corpus.jsonl"
CORPUS = [json.loads(line) for line in CORPUS_PATH.read_text(encoding="utf-8").splitlines() if line.strip()]
YN, CNT, DIR = ["Yes", "No"], ["Two", "Four"], ["North-south", "East-west"]


def test_corpus_is_large_varied_and_honest() -> None:
    assert len(CORPUS) >= 150
    assert len({c["id"] for c in CORPUS}) == len(CORPUS)
    cats = Counter(c["category"] for c in CORPUS)
    for cat in ("bare_letter", "marker", "option_text", "yes_no", "reasoning", "negation", "ordinal", "cjk",
                "article", "refusal_ambiguous"):
        assert cats[cat] >= 5, cat
    none = sum(c["expected"] is None for c in CORPUS)
    assert 0.15 < none / len(CORPUS) < 0.5  # plenty of replies that must NOT be read as a choice


@pytest.mark.parametrize("case", CORPUS, ids=[c["id"] for c in CORPUS])
def test_corpus(case: dict) -> None:
    assert extract_choice(case["response"], case["options"]) == case["expected"], case["response"]


@pytest.mark.parametrize("reply", ["B", "(b)", "**B**", "[B]", "\\boxed{B}", "B) Four", "Ｂ", "答案是B", "Answer: B",
                                   "Final answer: (b)", "The answer is B."])
def test_letter_forms(reply: str) -> None:
    assert extract_choice(reply, CNT) == "B"


@pytest.mark.parametrize("reply", ["there is a car", "A car is parked here.", "A few ships.", "", "   ", "Both.",
                                   "A or B", "Neither.", "C", "I cannot tell.", "Answer: A or B"])
def test_never_invents_a_choice(reply: str) -> None:
    assert extract_choice(reply, CNT) is None
    assert not is_readable(reply, CNT)


def test_option_text_is_hyphen_and_case_insensitive() -> None:
    assert extract_choice("The runway runs EAST WEST.", DIR) == "B"
    assert extract_choice("north-south", DIR) == "A"


def test_longest_option_wins_over_a_contained_one() -> None:
    options = ["Sailing", "Sailing in open water"]
    assert extract_choice("It is sailing in open water.", options) == "B"
    assert extract_choice("It is sailing.", options) == "A"


def test_final_stated_choice_wins_after_reasoning() -> None:
    reply = "Let's think step by step. (a) would need a vertical river. It is horizontal. Therefore (b)."
    assert extract_choice(reply, DIR) == "B"
    assert extract_choice("<think>It is A. No wait.</think>Answer: B", CNT) == "B"


def test_negation_and_ordinals() -> None:
    assert extract_choice("Not A, it is B.", CNT) == "B"
    assert extract_choice("The answer is not A.", CNT) is None
    assert extract_choice("the second option", CNT) == "B"
    assert extract_choice("The first image is brighter.", YN) is None


def test_out_of_range_letter_is_none() -> None:
    assert extract_choice("C", CNT) is None
    assert extract_choice("C", ["One", "Two", "Three"]) == "C"


def _baseline():
    mmvp = pytest.importorskip("lmms_eval.tasks.mmvp.utils")
    return lambda reply: (mmvp._extract_answer_letter(reply) or None)


def test_lmms_eval_mmvp_parser_is_the_worse_baseline() -> None:
    """The built-in parser reads the article in "there is a car" as A; ours beats it on the corpus."""
    baseline = _baseline()
    assert baseline("there is a car") == "A"
    assert extract_choice("there is a car", YN) is None
    ours = sum(extract_choice(c["response"], c["options"]) == c["expected"] for c in CORPUS)
    theirs = sum(baseline(c["response"]) == c["expected"] for c in CORPUS)
    assert ours == len(CORPUS)
    assert theirs < ours
    invented_theirs = sum(c["expected"] is None and baseline(c["response"]) is not None for c in CORPUS)
    assert invented_theirs > 0


def test_negation_scope_ends_at_clause_punctuation_not_at_its() -> None:
    assert extract_choice("I don't think it's A. It's B.", CNT) == "B"
    assert extract_choice("It's not east-west, it's north-south.", DIR) == "A"
    assert extract_choice("It isn't east-west.", DIR) is None


def test_rejected_described_and_named_letters_are_not_choices() -> None:
    assert extract_choice("A is wrong.", CNT) is None
    assert extract_choice("A is wrong, B is right.", CNT) == "B"
    assert extract_choice("Option A says the tanks are hard to count.", CNT) is None
    assert extract_choice("In image A, the runway runs east-west.", DIR) == "B"
    assert extract_choice("The first option is incorrect.", CNT) is None


def test_yes_no_hedges_and_numeric_option_numbers() -> None:
    assert extract_choice("Yes and no.", YN) is None
    assert extract_choice("Yes/No", YN) is None
    assert extract_choice("Option 2", CNT) == "B"
    assert extract_choice("Option 2", ["2", "4"]) is None  # the text "2" or the second option "4"?
    assert extract_choice("option 4", ["2", "4"]) == "B"


def test_cjk_option_word_and_alternatives() -> None:
    assert extract_choice("选项B", CNT) == "B"
    assert extract_choice("答案：A 或 B", CNT) is None
    assert extract_choice("I'd say (a) or (b).", CNT) is None
