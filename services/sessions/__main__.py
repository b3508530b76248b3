from services.sessions.app import main

main()
