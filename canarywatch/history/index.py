"""Similarity of template texts: TF-IDF vectors and cosine nearest neighbours (scikit-learn).

Words of two or more letters, English stop words left out, are the features (masked
parameters ``<*>`` and numbers are not), with sublinear term frequency; the idf weights are
fitted on the service's known templates and stored in the model, so loading rebuilds the
index without refitting. A reworded message shares most of its informative words with the
known one ("payment", "gateway", "timeout") and lands close to it; an unrelated error shares
only common words. Words the history never saw count against the similarity, weighted as
the rarest known word: a message of mostly new words is not close to anything.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.neighbors import NearestNeighbors

from canarywatch.history.model import TextIndexState

TOKEN_PATTERN = r"(?u)\b[^\W\d_]{2,}\b"


def _vectorizer(vocabulary: dict[str, int] | None = None) -> TfidfVectorizer:
    return TfidfVectorizer(token_pattern=TOKEN_PATTERN, lowercase=True, sublinear_tf=True,
                           stop_words="english",
                           vocabulary=vocabulary)


def fit_index(texts: Sequence[str]) -> TextIndexState:
    """Fit the TF-IDF weights on ``texts`` (the service's known templates)."""
    if not texts:
        return TextIndexState()
    vectorizer = _vectorizer()
    try:
        vectorizer.fit(texts)
    except ValueError:  # no text has a word: nothing to index
        return TextIndexState()
    vocabulary = tuple(str(t) for t in vectorizer.get_feature_names_out())
    return TextIndexState(vocabulary, tuple(float(x) for x in vectorizer.idf_))


@dataclass(frozen=True, slots=True)
class Neighbour:
    position: int  # index into the texts the index was built over
    similarity: float  # cosine similarity, 0..1


class TextIndex:
    """Nearest known template texts of a query text."""

    def __init__(self, state: TextIndexState, texts: Sequence[str]) -> None:
        self._size = len(texts)
        self._vectorizer: TfidfVectorizer | None = None
        self._neighbours: NearestNeighbors | None = None
        if not state.vocabulary or not texts:
            return
        vectorizer = _vectorizer({t: i for i, t in enumerate(state.vocabulary)})
        vectorizer.idf_ = np.asarray(state.idf, dtype=np.float64)
        matrix = vectorizer.transform(texts)
        self._vectorizer = vectorizer
        self._neighbours = NearestNeighbors(metric="cosine", algorithm="brute").fit(matrix)

    def nearest(self, text: str, k: int = 1) -> list[Neighbour]:
        """Up to ``k`` known texts closest to ``text``, most similar first."""
        if self._vectorizer is None or self._neighbours is None or self._size == 0:
            return []
        query = self._vectorizer.transform([text])
        if query.nnz == 0:
            return []
        distances, positions = self._neighbours.kneighbors(query, n_neighbors=min(k,
                                                                                   self._size))
        factor = self._known_share(text)
        return [Neighbour(int(p), max(0.0, 1.0 - float(d)) * factor)
                for d, p in zip(distances[0], positions[0], strict=True)]

    def _known_share(self, text: str) -> float:
        """sqrt(known words' tf-idf mass / all words' mass); unseen words weigh max idf."""
        assert self._vectorizer is not None
        vocabulary = self._vectorizer.vocabulary_
        idf = self._vectorizer.idf_
        counts: dict[str, int] = {}
        for word in self._vectorizer.build_analyzer()(text):
            counts[word] = counts.get(word, 0) + 1
        known = unknown = 0.0
        top = float(np.max(idf))
        for word, n in counts.items():
            column = vocabulary.get(word)
            weight = (1.0 + math.log(n)) * (top if column is None else float(idf[column]))
            if column is None:
                unknown += weight * weight
            else:
                known += weight * weight
        return math.sqrt(known / (known + unknown)) if known > 0 else 0.0
