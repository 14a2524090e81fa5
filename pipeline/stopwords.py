"""Words that say nothing about someone's interests, and the tokenizer that drops them.

One place for the list: the neighbours' shared words and the cluster keywords both use it.
``STOP_WORDS`` is scikit-learn's English list plus the filler every introduction shares
("hi everyone, I'm excited to be here, looking forward to …"): greetings, the batch and
the place, feelings about joining, vague verbs, adjectives and nouns of wanting and doing
("write", "small", "toy", "project"), and contractions with or without the apostrophe
("you're", "I've", "dont"). A few of scikit-learn's words ("computer", "systems") are
kept, and so is "learning" (as in machine learning): here they are interests.
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
    "following", "follow", "enjoy", "enjoying", "goal", "goals", "system",
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

# scikit-learn's list has a few words that are real interests in a programmers' community
TOPICAL = {"computer", "systems"}



@cache
def stop_words() -> frozenset[str]:
    """The whole list (also ``STOP_WORDS``, read the same way)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset((ENGLISH_STOP_WORDS - TOPICAL) | GREETINGS | BATCH_TALK | FEELINGS | VAGUE | CONTRACTIONS)


def __getattr__(name: str):  # ``STOP_WORDS``, made on first use
    if name == "STOP_WORDS":
        return stop_words()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

# letters/digits, optionally joined by one apostrophe (i'm), with a "++" or "#" tail (c++, c#)
_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)?(?:\+\+|#)?", re.UNICODE)


def tokens(text: str) -> list[str]:
    """Lowercased words of ``text`` without stop words, numbers or single letters."""
    words = (m.group(0).replace("’", "'") for m in _TOKEN.finditer(text.lower()))
    stop = stop_words()
    return [w for w in words if len(w) > 1 and not w.isdigit() and w not in stop]
