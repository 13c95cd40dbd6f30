"""Text handling shared by indexing, retrieval and answering: Chinese is first-class here."""
