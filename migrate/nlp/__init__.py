"""Clinical NLP: page layout into lines, spaCy components, rules kept as versioned data files."""
