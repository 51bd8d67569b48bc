// Module NIfTI.
