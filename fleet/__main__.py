from fleet.launch import main

raise SystemExit(main())
