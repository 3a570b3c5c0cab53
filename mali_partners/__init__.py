"""mali_partners: Mali's foreign partnerships, read from a news corpus.

Naming grammar (after quanteda's design vignette), kept across the package:

* **Objects are nouns**, each a tidy pandas DataFrame: the *corpus* (one row per
  article), *sentences*, *tokens*, *mentions* (one row per actor mention, with its
  span), *terms*, *units* (one row per sentence and partner, scored).
* **Loaders** are ``<object>_load``: ``corpus_load``, ``gazetteer_load``, ``lexicon_load``.
* **Transforms from one object to the next** are ``<input>_<output or verb>``:
  ``corpus_clean``, ``corpus_sentences``, ``sentences_tokens``, ``tokens_terms``,
  ``mentions_find``, ``mentions_date``, ``mentions_rollup``, ``relations_score``.
* **Analyses** return a tidy frame under one family name, ``textstat_*``:
  ``textstat_frequency``, ``textstat_keyness``, ``textstat_cooccurrence``,
  ``textstat_collocates``, ``textstat_actor_counts``, ``textstat_trajectory``; helpers
  of the trajectory family are ``trajectory_*`` (evidence, events, crossover,
  leave-one-out).
* **Counting a large corpus in blocks** of whole articles: ``<analysis>_tally`` returns
  the counts of some articles (a ``Counter``; tallies of disjoint articles add up) and
  ``textstat_<analysis>_tallied`` turns a corpus's summed tally into the table
  (``cooccurrence_tally``, ``collocates_tally``; ``keyness_actors_tally`` with
  ``keyness_actors_tallied``); ``*_blocks`` takes a function giving the table's rows in
  blocks (``textstat_frequency_blocks``, whose blocks may also come as the
  ``BlockTerms`` of ``block_terms``). Each gives the table of the whole-corpus function,
  to the last bit. A run with a cache keeps each block's tally in a ``BlockMemo``, so a
  rerun recounts only the blocks whose articles changed.
* **Charts** take those frames and return a matplotlib Figure, ``textplot_*``.
* Specific names over overloaded generics; the main object first; enumerated options
  are checked up front and a bad value raises :class:`mali_partners.errors.InputError`
  listing the allowed values.

Data flow, one way: corpus -> text -> actors -> frequency / co-occurrence / trajectory
-> charts -> notebooks -> book. :func:`mali_partners.pipeline.run` runs it all.
"""

__all__ = ["__version__"]

try:
    from importlib.metadata import version as _version

    __version__ = _version("mali-partners")
except Exception:  # pragma: no cover - running from a source tree without installing
    __version__ = "0+unknown"

# compiled builds of the per-article modules, when `make install` made them for this source (see speedups)
from . import speedups as _speedups  # noqa: E402

_speedups.install()
