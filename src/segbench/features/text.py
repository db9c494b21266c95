"""The ``text`` block: what customers write (or buy), as mean-pooled sentence embeddings.

Each text is embedded once (see :mod:`segbench.features.embeddings`), the embeddings of a
customer's texts are averaged, and the block is optionally reduced with PCA so that 384
dimensions do not drown a 3-column block. Customers without any text get the mean embedding
learned in :meth:`TextBlock.fit` (a neutral point), and their number is recorded.

``method="tfidf"`` is a cheap variant without a neural model: TF-IDF of each customer's
concatenated texts reduced by truncated SVD.
"""

from __future__ import annotations

from numbers import Integral
from typing import ClassVar

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.decomposition import PCA, TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils._param_validation import Interval, StrOptions

from segbench.data.model import CustomerData
from segbench.errors import ConfigError
from segbench.features.base import FeatureBlock
from segbench.features.embeddings import BATCH_SIZE, Embedder

METHODS = ("sbert", "tfidf")


#: The text of the logged model's input example (:func:`segbench.serving.model.example_rows`),
#: embedded when MLflow checks that the model predicts the example.
EXAMPLE_TEXT = "example text"


def _clean_texts(data: CustomerData) -> pd.DataFrame:
    texts = data.texts[["customer_id", "text"]].dropna()
    texts = texts.assign(text=texts["text"].astype(str).str.strip())
    return texts[texts["text"] != ""]


class TextBlock(FeatureBlock):
    """Mean-pooled sentence embeddings (or TF-IDF + SVD) of each customer's texts.

    Parameters
    ----------
    weight
        Block weight in the composed matrix.
    method
        ``"sbert"`` (sentence-transformers) or ``"tfidf"``.
    model
        Packaged model name (``all-MiniLM-L6-v2``) or a local model folder.
    pca_components
        Reduce the block to this many principal components (``None`` keeps all).
    svd_components
        Dimensions of the TF-IDF variant.
    batch_size, cache_dir, progress
        Embedding batch size, cache folder (default ``<SEGBENCH_CACHE_DIR>/embeddings``),
        progress bar while embedding.
    """

    requires = ("texts",)
    _parameter_constraints: ClassVar[dict] = {
        **FeatureBlock._parameter_constraints,
        "method": [StrOptions(set(METHODS))],
        "model": [str],
        "pca_components": [Interval(Integral, 1, None, closed="left"), None],
        "svd_components": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "cache_dir": [str, None],
        "progress": ["boolean"],
    }

    def __init__(
        self,
        weight: float = 1.0,
        method: str = "sbert",
        model: str = "all-MiniLM-L6-v2",
        pca_components: int | None = 16,
        svd_components: int = 64,
        batch_size: int = BATCH_SIZE,
        cache_dir: str | None = None,
        progress: bool = True,
    ) -> None:
        super().__init__(weight)
        self.method = method
        self.model = model
        self.pca_components = pca_components
        self.svd_components = svd_components
        self.batch_size = batch_size
        self.cache_dir = cache_dir
        self.progress = progress

    # -- per-customer raw vectors ------------------------------------------------------
    def distinct_texts(self, data: CustomerData) -> list[str]:
        """The distinct non-empty texts of ``data`` the block embeds, in order of appearance."""
        return list(pd.unique(_clean_texts(data)["text"]))

    def _sbert(self, data: CustomerData) -> tuple[np.ndarray, np.ndarray]:
        texts = _clean_texts(data)
        embedder = Embedder(self.model, self.cache_dir, self.batch_size, self.progress)
        codes, uniques = pd.factorize(texts["text"])
        vectors = embedder.embed(list(uniques))
        self.embedding_stats_ = dict(embedder.stats)
        rows = data.customer_ids.get_indexer(texts["customer_id"])
        keep = rows >= 0
        rows, codes = rows[keep], codes[keep]
        counts = np.bincount(rows, minlength=data.n_customers).astype(np.float64)
        weights = 1.0 / counts[rows]
        pool = sparse.csr_matrix((weights, (rows, codes)), shape=(data.n_customers, len(uniques)))
        return np.asarray(pool @ vectors, dtype=np.float64), counts > 0

    def _documents(self, data: CustomerData) -> tuple[pd.Series, np.ndarray]:
        texts = _clean_texts(data)
        joined = texts.groupby("customer_id", sort=False)["text"].agg(" ".join)
        docs = joined.reindex(data.customer_ids).fillna("")
        return docs, (docs != "").to_numpy()

    def _raw(self, data: CustomerData, fitting: bool) -> np.ndarray:
        if self.method == "sbert":
            vectors, has_text = self._sbert(data)
        elif self.method == "tfidf":
            docs, has_text = self._documents(data)
            if fitting:
                self.vectorizer_ = TfidfVectorizer(min_df=2, max_features=50_000, sublinear_tf=True)
                tfidf = self.vectorizer_.fit_transform(docs)
                k = max(1, min(self.svd_components, tfidf.shape[1] - 1))
                self.svd_ = TruncatedSVD(n_components=k, random_state=0).fit(tfidf)
            vectors = self.svd_.transform(self.vectorizer_.transform(docs))
        else:
            raise ConfigError(f"text method {self.method!r} unknown; expected one of {METHODS}")
        if fitting:
            self.fill_ = vectors[has_text].mean(axis=0) if has_text.any() else vectors.mean(0)
        vectors[~has_text] = self.fill_
        self.n_without_text_ = int((~has_text).sum())
        return vectors

    # -- fit / transform -----------------------------------------------------------------
    def fit(self, data: CustomerData) -> TextBlock:
        self.fit_transform(data)
        return self

    def fit_transform(self, data: CustomerData) -> pd.DataFrame:
        vectors = self._raw(data, fitting=True)
        self.pca_ = None
        if self.pca_components and self.pca_components < vectors.shape[1]:
            self.pca_ = PCA(n_components=self.pca_components, random_state=0).fit(vectors)
        return self._frame(vectors, data)

    def transform(self, data: CustomerData) -> pd.DataFrame:
        return self._frame(self._raw(data, fitting=False), data)

    def _frame(self, vectors: np.ndarray, data: CustomerData) -> pd.DataFrame:
        if self.pca_ is not None:
            vectors = self.pca_.transform(vectors)
            names = [f"pc{i + 1}" for i in range(vectors.shape[1])]
        else:
            names = [f"dim{i + 1}" for i in range(vectors.shape[1])]
        return pd.DataFrame(vectors, index=data.customer_ids, columns=names)
