"""Raw articles (newswire text files, JSONL, CSV) into Article records."""
