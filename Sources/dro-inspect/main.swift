print("dro-inspect: not yet implemented")
