"""The interop stage: existing corpora in and out (brat, CoNLL/BIO, doccano, Prodigy, Label Studio, releases).

Every format is one module of this package with a reader and/or a writer, listed in
:mod:`corpus_tools.interop.registry`; :mod:`corpus_tools.interop.convert` runs a conversion (read, label map,
write atomically) and collects every problem in one :class:`~corpus_tools.report.Report`.
"""
