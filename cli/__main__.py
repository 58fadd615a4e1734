from webleads.cli import main

main()
