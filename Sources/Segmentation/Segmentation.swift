// Module Segmentation.
