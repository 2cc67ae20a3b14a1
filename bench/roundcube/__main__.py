from bench.roundcube.run import main

main()
