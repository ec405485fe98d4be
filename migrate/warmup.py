"""Loads the extraction's dictionaries once, in the process that forks the workers.

Imported only by the process pool's forkserver (``set_forkserver_preload``): every worker then
starts with the ICD-10-CM terminology, the drug dictionary and spaCy's tokenizer already in
memory (shared copy-on-write) instead of each spending seconds loading its own.
"""

from migrate.nlp import clinical, medications, terminology
from migrate.nlp.forms import lexicon


def load_all() -> None:
    terminology.load()
    clinical.tokenizer()
    lexicon()
    lexicon(section="encounter")
    medications.rules_version()
    medications._dictionary()


load_all()
