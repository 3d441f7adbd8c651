"""The answer reader: the labelled corpus as a regression test, focused rules, and the baseline."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from rsmmvp_tasks import extract_choice, is_readable

DATA = Path(__file__).parent / "data"


def _load(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()]


CORPUS = _load("answer_corpus.jsonl")  # written alongside the rules
UNSEEN = _load("answer_corpus_unseen.jsonl")  # written before running the reader on it; tiny-model replies
YN, CNT, DIR = ["Yes", "No"], ["Two", "Four"], ["North-south", "East-west"]
#: unseen replies a careful human reads as a letter that the reader leaves unread (None, never a wrong letter):
#: a paraphrase ("tied to" = docked), check marks on an echoed list, a partial option text ("the right side"
#: for "On the right side"), a translation of the options (Chinese for "East-west")
UNSEEN_KNOWN_MISSES = {"unseen-019", "unseen-035", "unseen-066", "unseen-100"}


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
    for cases in (CORPUS, UNSEEN):
        ours = sum(extract_choice(c["response"], c["options"]) == c["expected"] for c in cases)
        theirs = sum(baseline(c["response"]) == c["expected"] for c in cases)
        assert theirs < ours
        invented_theirs = sum(c["expected"] is None and baseline(c["response"]) is not None for c in cases)
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


# ------------------------------------------------------------------------------------------------------------
# the unseen corpus (issue 13): never a wrong letter; exact except the listed misses


def test_unseen_corpus_is_blind_varied_and_sourced() -> None:
    assert len({c["id"] for c in UNSEEN} | {c["id"] for c in CORPUS}) == len(UNSEEN) + len(CORPUS)
    sources = Counter(c["source"] for c in UNSEEN)
    assert sources["handwritten-blind"] >= 80
    assert sum(n for s, n in sources.items() if s.startswith("tinyllava-random")) >= 20
    cats = Counter(c["category"] for c in UNSEEN)
    for cat in ("verbose", "llava_style", "echo_listing", "json_markdown", "cot", "negate_assert", "hedge_refusal",
                "yes_no_idiom", "multilingual", "short_form", "tiny_model"):
        assert cats[cat] >= 8, cat
    assert 0.2 < sum(c["expected"] is None for c in UNSEEN) / len(UNSEEN) < 0.6


@pytest.mark.parametrize("case", UNSEEN, ids=[c["id"] for c in UNSEEN])
def test_unseen_corpus(case: dict) -> None:
    got = extract_choice(case["response"], case["options"])
    assert got in (case["expected"], None), f"wrong letter {got} for {case['response']!r}"
    if case["id"] in UNSEEN_KNOWN_MISSES:
        assert got is None and case["expected"] is not None  # fixed? remove it from UNSEEN_KNOWN_MISSES
    else:
        assert got == case["expected"], case["response"]


# ------------------------------------------------------------------------------------------------------------
# issue 9 A1: one regression test per class of wrong letter


@pytest.mark.parametrize("reply, options, expected", [
    ("A. Yes\nB. No", YN, None),
    ("(A) Yes (B) No", YN, None),
    ("a. two\nb. four", CNT, None),
    ("A: Two, B: Four", CNT, None),
    ("A. One\nB. Two\nC. Three", ["One", "Two", "Three"], None),
    ("A) Yes\nB) No\n\nB", YN, "B"),
    ("A. Yes\nB. No\nAnswer: B", YN, "B"),
    ("Question: how many?\nA. Two\nB. Four\nThe tanks are four, so the answer is B.", CNT, "B"),
    ("The answer is B.\nA. Two\nB. Four", CNT, "B"),
    ("The correct answer is (A) Two, not (B) Four.", CNT, "A"),  # entries inside a sentence are no echo
])
def test_an_echoed_option_list_states_no_choice(reply: str, options: list[str], expected: str | None) -> None:
    assert extract_choice(reply, options) == expected


@pytest.mark.parametrize("reply, expected", [
    ("(B) is incorrect, (A) is correct.", "A"),
    ("(A) is wrong because the tanks are four, so (B).", "B"),
    ("B. A is wrong.", "B"),
    ("A. B.", None),
    ("A) B)", None),
    ("A B", None),
])
def test_a_leading_letter_judged_or_listed_is_not_a_choice(reply: str, expected: str | None) -> None:
    assert extract_choice(reply, CNT) == expected


@pytest.mark.parametrize("reply, options", [
    ("A. Four", CNT), ("The answer is A. Four", CNT), ("Option A: Four", CNT), ("No (A)", YN), ("Answer: B. Yes", YN),
    ("North-south (B)", DIR), ("B. Hmm, actually the answer is A.", CNT), ("B. I think the answer is A.", CNT),
])
def test_conflicting_evidence_is_none(reply: str, options: list[str]) -> None:
    """A letter written with another option's text, or a leading letter a later answer contradicts."""
    assert extract_choice(reply, options) is None


def test_letters_and_their_own_texts_agree() -> None:
    assert extract_choice("B. Four", CNT) == "B"
    assert extract_choice("Yes (A).", YN) == "A"
    assert extract_choice("The answer is B. Two of the four tanks are hidden.", CNT) == "B"  # a new sentence


@pytest.mark.parametrize("reply, expected", [
    ("No doubt, yes.", "A"),
    ("There are no cars on the road.", None),
    ("No cars are visible on the road.", None),
    ("No visible damage; the roof looks intact.", None),
    ("No one is on the road.", None),
    ("No idea.", None),
    ("Yes, the road is empty; there are no vehicles.", "A"),
    ("No, there are several vehicles.", "B"),
    ("No there isn't.", "B"),
    ("There are no ships, so no.", "B"),
    ("The answer is no.", "B"),
    ("Yes/No", None),
])
def test_no_is_the_answer_only_as_an_interjection(reply: str, expected: str | None) -> None:
    assert extract_choice(reply, YN) == expected


@pytest.mark.parametrize("reply, expected", [
    ("Nope.", "B"), ("Yep, there's a ship.", "A"), ("Absolutely not.", "B"), ("Not at all.", "B"), ("Oui.", "A"),
    ("Sí, hay un barco.", "A"), ("Nein, es gibt keine Brücke.", "B"), ("是的，有一艘船。", "A"), ("Yeah, I can't tell", "A"),
    ("I can't say yes or no.", None), ("Absolutely.", None),
])
def test_yes_no_synonyms_as_interjections(reply: str, expected: str | None) -> None:
    assert extract_choice(reply, YN) == expected


def test_options_sharing_a_prefix() -> None:
    options = ["Yes", "Yes, partially"]
    assert extract_choice("Yes partially", options) == "B"
    assert extract_choice("Yes, partially; the eastern half is flooded.", options) == "B"
    assert extract_choice("Yes.", options) == "A"


def test_counts_and_bare_numbers() -> None:
    assert extract_choice("There are 4 storage tanks.", CNT) == "B"
    assert extract_choice("four (4)", CNT) == "B"
    assert extract_choice("2", CNT) is None  # the value Two or the second option Four?
    assert extract_choice("Answer: 2", CNT) is None
    assert extract_choice("4", CNT) == "B"  # no fourth option: the value
    assert extract_choice("1", YN) == "A"  # options are no numbers: a position
    assert extract_choice("2", ["2", "4"]) is None
    assert extract_choice("There are two tanks.", ["2", "4"]) == "A"


@pytest.mark.parametrize("reply, expected", [
    ("不是A，是B。", "B"), ("A和B都不对。", None), ("Ni A ni B.", None), ("Entweder A oder B.", None),
    ("La respuesta es B.", "B"), ("Die Antwort ist nicht A.", None), ("Ответ: A", "A"), ("答え：B", "B"),
])
def test_other_languages(reply: str, expected: str | None) -> None:
    assert extract_choice(reply, CNT) == expected


def test_degenerate_and_reasoning_wrapped_replies() -> None:
    assert extract_choice("Yet B Answer useroicrthSSSSSSSSSSSSSSSSS", CNT) is None  # looping generation
    assert extract_choice("iv in runfTANwtionsouS aretis opBv us No thereYessouS", YN) is None
    assert extract_choice("Hmmmm, B.", CNT) == "B"
    assert extract_choice("the tanks... maybe A</think>\n\nB", CNT) == "B"  # <think> was in the prompt
    assert extract_choice("<think>" * 1000 + "A", CNT) is None


def test_named_things_and_dashes() -> None:
    assert extract_choice("The area marked B in the image is a field; I can't count the tanks.", CNT) is None
    assert extract_choice("Definitely not two — there are four.", CNT) == "B"


def test_long_degenerate_replies_are_read() -> None:
    """Functional only (no timing): 200 KB replies finish; scripts/bench_answers.py measures the growth."""
    assert extract_choice("A B " * 50_000, CNT) is None
    assert extract_choice("so " * 60_000 + "the answer is B", CNT) == "B"
