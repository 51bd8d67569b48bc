// Module Sampling.
