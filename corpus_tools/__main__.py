from corpus_tools.cli.app import main

main()
