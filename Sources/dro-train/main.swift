print("dro-train: not yet implemented")
