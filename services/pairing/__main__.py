from services.pairing.app import main

main()
