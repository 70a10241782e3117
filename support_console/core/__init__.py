"""The building blocks every layer shares: errors, model facts, token counting and trimming, personas,
the conversation vocabulary, and text rules (terminal safety, diffs, name matching). Plain Python: no I/O
beyond reading the shipped files, no database, no network, no Textual."""
