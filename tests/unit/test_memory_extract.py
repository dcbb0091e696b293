"""The rule-based memory extractor on hand-written messages (pure, no database)."""

from __future__ import annotations

import pytest

from vivim.memory.extract import content_words, normalise, sentences, similar, statements, third_person

PLANTED = (
    "Hi! My name is Priya and I live in Lisbon. I work as a data engineer at a fintech startup.\n\n"
    "Can you recommend a book? Do I need to learn Scala for Spark?\n\n"
    "If I moved to Berlin, I would learn German. Imagine I am a pirate captain. Let's say I have three cats.\n\n"
    "I prefer tea over coffee. My favourite language is Python. I'm training for a half marathon in October.\n\n"
    "My dog Biscuit loves the beach. I have two kids. I am building a budgeting app called Pennywise.\n\n"
    "My goal is to run a marathon before I turn forty."
)


def test_the_planted_statements_are_found_typed_and_in_order() -> None:
    found = [(s.memory_type, s.category, s.content) for s in statements(PLANTED)]
    assert found == [
        ("IDENTITY", "name", "My name is Priya and I live in Lisbon."),
        ("IDENTITY", "occupation", "I work as a data engineer at a fintech startup."),
        ("PREFERENCE", "likes", "I prefer tea over coffee."),
        ("PREFERENCE", "likes", "My favourite language is Python."),
        ("GOAL", "learning", "I'm training for a half marathon in October."),
        ("RELATIONSHIP", "family", "My dog Biscuit loves the beach."),
        ("RELATIONSHIP", "family", "I have two kids."),
        ("PROJECT", "project", "I am building a budgeting app called Pennywise."),
        ("GOAL", "goal", "My goal is to run a marathon before I turn forty."),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Do I need to learn Scala for Spark?",
        "Can I live in Lisbon on a nurse's salary?",
        "What if I prefer tea?",
        "Don't you think I should quit my job",
        "Isn't it true that I love Python",
        "If I lived in Paris, I would love it.",
        "Imagine I am a pirate captain.",
        "Suppose I work at Google.",
        "Let's say I have three cats.",
        "Pretend I am a dragon who loves gold.",
        "In the story, I live in a castle.",
        "I want you to write a haiku about autumn.",
        "I'd like you to act as my tutor.",
        "I want to write a function that parses dates.",
        'My friend said "I live in Paris and I love cheese" yesterday.',
        "> I am a quoted line from an email",
        "```\n# I love this code\nprint('I live in Rome')\n```",
        "The weather is nice today.",
        "I think so.",
    ],
)
def test_questions_hypotheticals_quotes_code_and_requests_are_ignored(text: str) -> None:
    assert statements(text) == []


def test_pasted_paragraphs_are_not_the_user_speaking() -> None:
    pasted = "I live in Rome. " + "The quarterly report shows growth across all regions. " * 15
    assert statements(pasted) == []
    assert [s.content for s in statements("I live in Rome.")] == ["I live in Rome."]


def test_a_repeat_within_one_message_is_kept_once() -> None:
    found = statements("I prefer tea over coffee. Honestly, I really prefer tea over coffee!")
    assert [s.content for s in found] == ["I prefer tea over coffee."]


def test_normalised_keys_ignore_case_contractions_filler_and_punctuation() -> None:
    assert normalise("I'm training for a half-marathon!") == normalise("I am currently training for a half marathon")
    assert normalise("Honestly, I prefer tea over coffee.") == "i prefer tea over coffee"
    assert normalise("I don't like olives") == "i do not like olives"


def test_near_duplicates_need_almost_all_meaning_words_in_common() -> None:
    a = content_words(normalise("I work as a data engineer at a fintech startup."))
    b = content_words(normalise("I work as a data engineer at a small fintech startup."))
    c = content_words(normalise("I work as a data engineer at a bank."))
    assert a == {"work", "data", "engineer", "fintech", "startup"}
    assert similar(a, b)  # 5 of 6 words shared
    assert not similar(a, c)
    # A negation changes the meaning, so it does not merge.
    assert not similar(content_words(normalise("I like olives")), content_words(normalise("I do not like olives")))


def test_summaries_are_in_the_third_person() -> None:
    assert third_person("I love hiking in the mountains.") == "The user loves hiking in the mountains."
    assert third_person("My name is Sam.") == "The user's name is Sam."
    assert third_person("I'm a nurse and I live in Lisbon.") == "The user is a nurse and the user lives in Lisbon."
    assert third_person("I don't like olives.") == "The user doesn't like olives."
    assert third_person("I usually watch films with my sister.") == "The user usually watches films with their sister."


def test_sentences_drop_code_and_quoted_lines() -> None:
    text = "First line.\n\n> quoted\n\nUse `I love x` here. Second one!\n\n```py\nI live in Rome\n```"
    assert sentences(text) == ["First line.", "Use here.", "Second one!"]


def test_life_events_are_kept_only_with_a_time() -> None:
    found = statements("I adopted a dog last week. I made pasta. I went to a pride parade last Friday!")
    assert [(s.memory_type, s.content) for s in found] == [
        ("EPISODIC", "I adopted a dog last week."),
        ("EPISODIC", "I went to a pride parade last Friday!"),
    ]


def test_a_statement_needs_meaning_beyond_its_rule() -> None:
    assert statements("I love to.") == []
    assert statements("I want to!") == []
    assert [s.content for s in statements("I love to paint.")] == ["I love to paint."]


def test_a_named_speaker_is_the_subject_of_the_summary() -> None:
    [st] = statements("I love painting sunsets with my kids.", speaker="Caroline")
    assert st.summary == "Caroline loves painting sunsets with their kids."
    [mine] = statements("My name is Mel.", speaker="Melanie")
    assert mine.summary == "Melanie's name is Mel."
