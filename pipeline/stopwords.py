"""Words that say nothing about someone's interests, and the tokenizer that drops them.

One place for the list: the neighbours' shared words and the cluster keywords both use it.
``STOP_WORDS`` is scikit-learn's English list plus the filler every introduction shares
("hi everyone, I'm excited to be here, looking forward to …"): greetings, the batch and
the place, feelings about joining, vague verbs, adjectives and nouns of wanting and doing
("write", "small", "toy", "project"), and contractions with or without the apostrophe
("you're", "I've", "dont"). A few of scikit-learn's words ("computer", "systems") are
kept, and so is "learning" (as in machine learning): here they are interests. The little
words of Spanish, Portuguese, French, Italian and German are stop words too
(``OTHER_LANGUAGES``). ``GENERIC_WORDS`` are words too broad to be a group's name alone, ``EMPTY_WORDS`` words
that are never a keyword alone.
The list is made on first use, so importing this module (the chat path does) does not
import scikit-learn.
"""

from __future__ import annotations

import re
from functools import cache

GREETINGS = {
    "hi", "hello", "hey", "hiya", "howdy", "folks", "everyone", "everybody", "all", "y'all", "yall",
    "welcome", "thanks", "thank", "ciao", "hola", "bonjour", "salut", "greetings",
}
BATCH_TALK = {
    "recurse", "rc", "batch", "batches", "recurser", "recursers", "center", "week", "weeks",
    "month", "months", "year", "years", "day", "days", "today", "time", "here", "join", "joining",
    "joined", "return", "returning", "f1", "f2", "s1", "s2", "w1", "w2", "sp1", "sp2", "su1", "su2",
    "intro", "introduction", "introduce", "myself", "name", "named", "called", "pronouns",
}
FEELINGS = {
    "excited", "exciting", "happy", "glad", "thrilled", "pleased", "stoked", "looking", "forward",
    "meet", "meeting", "chat", "pair", "pairing", "reach", "free", "feel", "hope", "hoping",
}
VAGUE = {
    "i'm", "im", "i've", "ive", "i'd", "i'll", "it's", "don't", "can't", "let's", "that's",
    "interested", "interest", "interests", "working", "work", "worked", "works", "really",
    "love", "loves", "loved", "currently", "also", "things", "thing", "stuff", "lot", "lots",
    "like", "likes", "liked", "want", "wanted", "wants", "learn", "learned", "new",
    "plan", "planning", "trying", "try", "doing", "make", "making", "build", "building",
    "get", "getting", "got", "know", "just", "bit", "little", "kind", "sort", "maybe", "pretty",
    "good", "great", "cool", "fun", "nice", "way", "ways", "able", "different", "various",
    "background", "previously", "recently", "people", "person", "spend", "spent", "using", "use",
    "used", "based", "etc", "especially", "lately", "mostly", "probably", "ok", "okay",
    "write", "writes", "writing", "wrote", "written", "built", "builds", "made", "makes",
    "read", "reads", "reading", "small", "tiny", "toy", "big", "old", "real",
    "job", "jobs", "project", "projects", "start", "started", "starting", "hopefully",
    "following", "follow", "enjoy", "enjoying", "goal", "goals", "understand", "understanding",
    "properly", "scratch", "implement", "implementing", "deeper", "better", "system",
}
# contractions: "you're", "i've" … and the same without the apostrophe where that is no word
_SUBJECTS = ("i", "you", "we", "they", "he", "she", "it", "that", "there", "what", "who", "let")
_VERBS = ("do", "does", "did", "is", "are", "was", "were", "have", "has", "had", "ca", "wo", "could",
          "would", "should")
CONTRACTIONS = (
    {f"{s}'{end}" for s in _SUBJECTS for end in ("m", "re", "ve", "ll", "d", "s")}
    | {f"{v}n't" for v in _VERBS} | {f"{v}nt" for v in _VERBS}
    | {"im", "ive", "youre", "youve", "theyre", "weve", "thats", "theres", "whats", "lets"}
)

# the little words of the other languages introductions come in most (es, pt, fr, it, de):
# a whole group of Spanish speakers shares "para" and "que", which says nothing
OTHER_LANGUAGES = {
    "de", "la", "el", "los", "las", "en", "que", "y", "un", "una", "para", "con", "por", "del", "al",
    "lo", "mi", "mis", "es", "soy", "yo", "muy", "como", "más", "también", "quiero", "aprender",
    "hacer", "trabajo", "todos", "me", "llamo", "o", "os", "um", "uma", "com", "do", "da", "dos",
    "das", "no", "na", "nos", "nas", "e", "eu", "sou", "quero", "aprender", "fazer", "há",
    "je", "le", "les", "des", "et", "du", "une", "pour", "avec", "dans", "sur", "mon", "ma", "mes",
    "suis", "veux", "apprendre", "faire", "comment", "j'aimerais", "m'appelle", "tout", "monde",
    "il", "di", "che", "per", "sono", "voglio", "imparare", "ciao", "und", "der", "die", "das",
    "ich", "ein", "eine", "zu", "mit", "von", "auf", "für", "bin", "ist", "möchte", "lernen",
    "bauen", "wie", "im", "aus", "zusammen", "hallo", "olá", "oi", "pessoal", "cześć", "hej",
    "hoi", "moin", "servus", "merhaba", "aloha",
}

# words too broad to name a group alone: a group is not called "app" while its keywords
# hold something more specific (they may still be one of its keywords)
GENERIC_WORDS = frozenset({
    "app", "apps", "application", "applications", "code", "coding", "data", "design", "development",
    "language", "languages", "model", "models", "program", "programming", "software", "tool", "tools",
    "type", "types", "web", "computer", "systems", "engineering", "engineer", "developer", "tech",
    "technology", "library", "libraries",
})

# words that name no topic on their own (never a keyword alone; inside a phrase they stay:
# "test cases", "time series", "next steps"). They are the words any text uses whatever it
# is about, by kind: time ("future", "minutes"), amount and degree ("faster", "simple",
# "many"), judgement ("important", "powerful"), the parts of an argument or a process
# ("cases", "steps", "need", "example", "approach", "tied"), and what talk descriptions
# say about themselves ("talk", "tutorial", "attendees"). Found on 100 pyvideo talks,
# where groups were named "python, faster, directory, tied, cases, future" and "…, manual,
# steps, minutes"; c-TF-IDF cannot see them, as two writers in one small group make any
# word look distinctive.
EMPTY_WORDS = frozenset({
    "future", "past", "present", "minute", "minutes", "hour", "hours", "second", "seconds", "moment", "recent",
    "soon", "later", "early", "late", "often", "sometimes", "next", "last", "long", "ago", "now", "nowadays",
    "fast", "faster", "fastest", "slow", "slower", "quick", "quickly", "simple", "simpler", "simplest", "easy",
    "easier", "easily", "hard", "harder", "many", "lot", "lots", "few", "large", "larger", "huge", "high", "higher",
    "low", "lower", "entire", "whole", "full", "fully", "number", "numbers", "amount", "single", "multiple",
    "best", "important", "interesting", "useful", "powerful", "common", "typical", "general", "specific",
    "particular", "main", "key", "major", "basic", "basics", "advanced", "modern", "popular", "efficient",
    "effective", "efficiently", "successful", "right", "wrong", "true", "possible", "available", "existing",
    "case", "cases", "step", "steps", "need", "needs", "needed", "require", "requires", "required", "example",
    "examples", "approach", "approaches", "way", "part", "parts", "set", "sets", "issue", "issues", "problem",
    "problems", "solution", "solutions", "question", "questions", "answer", "answers", "result", "results",
    "change", "changes", "level", "levels", "point", "points", "side", "end", "order", "tied", "related",
    "involved", "including", "given", "manual", "tips", "tricks", "idea", "ideas", "overview", "options",
    "talk", "talks", "tutorial", "session", "presentation", "attendees", "audience", "speaker", "slides",
    "discuss", "discussed", "explain", "explained", "cover", "covered", "covers", "show", "shows", "shown",
    "look", "looks", "walk", "presented", "introduce", "introduced", "demonstrate", "learnt",
})

# scikit-learn's list has a few words that are real interests in a programmers' community
TOPICAL = {"computer", "systems"}



@cache
def stop_words() -> frozenset[str]:
    """The whole list (also ``STOP_WORDS``, read the same way)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset((ENGLISH_STOP_WORDS - TOPICAL) | GREETINGS | BATCH_TALK | FEELINGS | VAGUE | CONTRACTIONS
                     | OTHER_LANGUAGES)


def __getattr__(name: str):  # ``STOP_WORDS``, made on first use
    if name == "STOP_WORDS":
        return stop_words()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

# letters/digits, optionally joined by one apostrophe (i'm), with a "++" or "#" tail (c++, c#)
_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)?(?:\+\+|#)?", re.UNICODE)


def words(text: str) -> list[str]:
    """Every lowercased word of ``text`` ("c++" and "i'm" are words)."""
    found = _TOKEN.findall(text.lower())
    return [w.replace("’", "'") for w in found] if "’" in text else found


def is_content(word: str) -> bool:
    """Whether a lowercased ``word`` says something: no stop word, number or single letter."""
    return len(word) > 1 and not word.isdigit() and word not in stop_words()


def tokens(text: str) -> list[str]:
    """Lowercased words of ``text`` without stop words, numbers or single letters."""
    return [w for w in words(text) if is_content(w)]


def names_nothing(term: str) -> bool:
    """Whether ``term`` is made only of ``EMPTY_WORDS`` ("future", "next steps"): it names no topic."""
    return all(word in EMPTY_WORDS for word in term.split())
