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
HELDOUT = _load("answer_corpus_heldout.jsonl")  # issue 16: written and committed before the reader was changed
YN, CNT, DIR = ["Yes", "No"], ["Two", "Four"], ["North-south", "East-west"]
COL, SHIP = ["Red", "Grey"], ["Docked at the pier", "Sailing in open water"]
#: unseen replies a careful human reads as a letter that the reader leaves unread (None, never a wrong letter):
#: a paraphrase by another verb ("tied to" = docked), a translation of the options (Chinese for "East-west")
UNSEEN_KNOWN_MISSES = {"unseen-019", "unseen-100"}


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
    for cases in (CORPUS, UNSEEN, HELDOUT):
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
    ("North-south (B)", DIR), ("B. I think the answer is A.", CNT),
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


# ------------------------------------------------------------------------------------------------------------
# issue 16 A.1: the reader by rule (module docstring); every case below gave a wrong letter or no letter before


def test_heldout_corpus_is_blind_and_covers_every_class() -> None:
    assert len(HELDOUT) >= 150
    ids = {c["id"] for c in HELDOUT}
    assert len(ids) == len(HELDOUT) and not ids & {c["id"] for c in CORPUS + UNSEEN}
    cats = Counter(c["category"] for c in HELDOUT)
    for cat in ("echo", "rejection", "verdict_list", "correction", "json", "paraphrase", "article",
                "letter_other_text", "garbage", "plain"):
        assert cats[cat] >= 8, cat
    option_sets = {tuple(c["options"]) for c in HELDOUT}
    assert {tuple(YN), tuple(CNT), tuple(DIR), tuple(COL)} <= option_sets and len(option_sets) >= 8
    assert 0.2 < sum(c["expected"] is None for c in HELDOUT) / len(HELDOUT) < 0.6


@pytest.mark.parametrize("case", HELDOUT, ids=[c["id"] for c in HELDOUT])
def test_heldout_corpus(case: dict) -> None:
    assert extract_choice(case["response"], case["options"]) == case["expected"], case["response"]


@pytest.mark.parametrize("name, cases", [("corpus", CORPUS), ("unseen", UNSEEN), ("heldout", HELDOUT)])
def test_no_corpus_gets_a_wrong_letter(name: str, cases: list[dict]) -> None:
    """A confident letter that differs from the human reading is the one error the reader must never make."""
    wrong = [(c["id"], got) for c in cases
             if (got := extract_choice(c["response"], c["options"])) is not None and got != c["expected"]]
    assert wrong == [], name


#: a letter beside the text of *another* option, before or after it, near or in a later sentence
LETTER_BESIDE_OTHER_TEXT = [
    ("B (North-south)", DIR), ("The answer is B, North-south.", DIR), ("Answer: A\nThe runway runs east-west.", DIR),
    ("A because the runway runs east-west", DIR), ("A as the runway is east-west", DIR),
    ("The answer is A: the road runs from east to west.", DIR), ("A (the roofs are grey)", COL),
    ("Answer: B (yes)", YN), ("A, there are four tanks.", CNT),
    ("B, since the ship is docked at the pier.", SHIP), ("Answer: B\nReason: the roofs are red.", COL),
    ("Answer: north to south (B)", DIR), ("B is the answer, since the road runs from north to south", DIR),
    ("A. Two tanks are not visible; four are.", CNT), ("**A** East-west", DIR), ("A (No)", YN), ("A\n\nNo", YN),
    ("A: No there isn't", YN), ("B? No.", YN),
]


@pytest.mark.parametrize("reply, options", LETTER_BESIDE_OTHER_TEXT)
def test_a_letter_beside_another_options_text_is_no_choice(reply: str, options: list[str]) -> None:
    assert extract_choice(reply, options) is None


#: rejections in other words than any list: a negator before, a verdict after, a check mark, a question
REJECTIONS = [
    ("(A) is clearly wrong.", DIR), ("Option A is clearly incorrect.", DIR), ("A is the wrong answer.", YN),
    ("The correct answer cannot be A.", CNT), ("I would rule out B.", DIR), ("We can eliminate B.", COL),
    ("B is definitely false.", DIR), ("Option B can be excluded.", CNT), ("I reject option A.", DIR),
    ("A would be incorrect here.", DIR), ("B is out.", DIR), ("Option B? No.", DIR), ("A? Wrong.", DIR),
    ("B ✗", YN), ("❌ A", CNT), ("East-west is wrong.", DIR), ("North-south is ruled out.", DIR),
]


@pytest.mark.parametrize("reply, options", REJECTIONS + [
    ("I'm not sure whether it is A or B.", DIR),  # a listing asserts neither letter, whatever negates one
])
def test_a_rejected_choice_is_never_read(reply: str, options: list[str]) -> None:
    assert extract_choice(reply, options) is None


@pytest.mark.parametrize("reply, options, expected", [
    ("We can eliminate B, which leaves A.", COL, "A"),
    ("It is east-west, and north-south is wrong.", DIR, "B"),
])
def test_a_rejection_leaves_the_other_choice_when_it_is_stated(reply: str, options: list[str],
                                                              expected: str) -> None:
    assert extract_choice(reply, options) == expected


#: verdict lists: the verdict after a choice is that choice's, symbols included
VERDICT_LISTS = [
    ("A: False\nB: True", YN, "B"), ("- A: incorrect\n- B: correct", DIR, "B"), ("(A) ✗ (B) ✓", CNT, "B"),
    ("A ✓ B ✗", CNT, "A"), ("A) false B) true", COL, "B"), ("A. Incorrect\nB. Correct", CNT, "B"),
    ("- (A) North-south: no\n- (B) East-west: yes", DIR, "B"), ("Two ❌ Four ✅", CNT, "B"),
    ("A: incorrect\nB: incorrect", YN, None), ("A: correct\nB: correct", DIR, None),
    ("A: ✗\nB: ✗\nC: ✓", ["One", "Two", "Three"], "C"),
    ("North-south: ✗, East-west: ✓", DIR, "B"), ("East-west: incorrect. North-south: correct.", DIR, "A"),
]


@pytest.mark.parametrize("reply, options, expected", VERDICT_LISTS)
def test_verdict_lists(reply: str, options: list[str], expected: str | None) -> None:
    assert extract_choice(reply, options) == expected


#: self-corrections: the corrected choice, or none; never the first one
CORRECTIONS = [
    ("The answer is B. Wait, no, A.", DIR, "A"), ("B. Correction: A.", YN, "A"), ("A. Actually, B.", CNT, "B"),
    ("The answer is A... no wait, it's B.", COL, "B"), ("B. Sorry, I meant A.", CNT, "A"),
    ("I'd say A. Hmm, on second thought, B.", CNT, "B"), ("Answer: B. Scratch that, A.", YN, "A"),
    ("B. Hmm, actually the answer is A.", CNT, "A"), ("The answer is east-west. Wait, no, north-south.", DIR, "A"),
    ("A. Wait, no.", YN, None), ("The answer is A. Hmm, maybe B.", CNT, None),
]


@pytest.mark.parametrize("reply, options, expected", CORRECTIONS)
def test_self_corrections(reply: str, options: list[str], expected: str | None) -> None:
    assert extract_choice(reply, options) == expected


@pytest.mark.parametrize("reply, expected", [
    ("I believe yes", "A"), ("It's a yes.", "A"), ("That's a no.", "B"), ("Of course yes", "A"), ("I guess no", "B"),
    ("There is no bridge", None), ("no sou tan", None), ("curio no", None),
])
def test_yes_and_no_as_interjections_after_a_clause_opening_word(reply: str, expected: str | None) -> None:
    assert extract_choice(reply, YN) == expected


def test_actually_corrects_only_before_a_choice() -> None:
    assert extract_choice("The answer is B. Actually, I'm confident.", CNT) == "B"
    assert extract_choice("The answer is B. Actually, it's A.", CNT) == "A"


#: JSON answers, paraphrased option texts, the article "A", garbage that starts and ends with "no"/"yes"
READINGS = [
    ('{"answer": "A"}', DIR, "A"), ('{"answer": "A"}', YN, "A"), ("{'answer': 'B'}", CNT, "B"),
    ('{"reasoning": "The tank is round.", "answer": "A"}', ["Circular", "Rectangular"], "A"),
    ('{"choice": "A", "confidence": 0.7}', YN, "A"),
    ("The runway runs from north to south.", DIR, "A"), ("It runs from east to west.", DIR, "B"),
    ("The runway is oriented from south to north.", DIR, "A"), ("The roofs are gray.", COL, "B"),
    ("The ship is sailing in the open water.", SHIP, "B"),
    ("Right side.", ["On the left side", "On the right side"], "B"),
    ("A road runs east to west.", DIR, "B"), ("A bridge crosses the river from east to west.", DIR, "B"),
    ("no curio northTANsou no curio northTANsou no", YN, None), ("no opBv southTAN no isx no", YN, None),
    ("yes curio wtion yes arets yes", YN, None), ("curio B ithvisi A opBv", CNT, None),
]


@pytest.mark.parametrize("reply, options, expected", READINGS)
def test_json_paraphrases_articles_and_garbage(reply: str, options: list[str], expected: str | None) -> None:
    assert extract_choice(reply, options) == expected
