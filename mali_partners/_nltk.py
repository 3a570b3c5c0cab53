"""The NLTK classes the package uses, imported without SciPy.

``import nltk`` imports every NLTK subpackage, and ``nltk.metrics`` imports
``scipy.stats`` for one association measure (Fisher's exact test) that this package
does not use: 0.9 s of a 1.1 s import, paid by every command and notebook. SciPy is
hidden while NLTK imports (a ``None`` entry in ``sys.modules`` makes its import fail,
which NLTK catches) and is importable again afterwards. When NLTK or SciPy is already
imported, nothing is hidden.
"""

from __future__ import annotations

import sys

if "nltk" not in sys.modules and "scipy" not in sys.modules:
    sys.modules["scipy"] = None  # type: ignore[assignment]
    try:
        import nltk  # noqa: F401
    finally:
        if sys.modules.get("scipy", 0) is None:
            del sys.modules["scipy"]

from nltk.collections import Trie  # noqa: E402
from nltk.stem.snowball import SnowballStemmer  # noqa: E402
from nltk.tokenize import MWETokenizer, RegexpTokenizer  # noqa: E402
from nltk.tokenize.punkt import PunktLanguageVars, PunktParameters, PunktSentenceTokenizer, PunktToken  # noqa: E402

__all__ = [
    "MWETokenizer",
    "PunktLanguageVars",
    "PunktParameters",
    "PunktSentenceTokenizer",
    "PunktToken",
    "RegexpTokenizer",
    "SnowballStemmer",
    "Trie",
]
