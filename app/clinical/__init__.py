"""clinical-rules.md as code: vocabularies, levels, the definitions, the pure rules, their SQL."""
