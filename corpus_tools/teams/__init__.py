"""Teams of annotators: agreement between them, adjudication to one gold, and the pseudonyms that name them.

Below the build (which puts agreement figures and pseudonyms into a release) and above the release contract,
the Label Studio adapter and the tokenizer it reads from.
"""
