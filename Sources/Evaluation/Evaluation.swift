// Module Evaluation: segmentation metrics and reports for dro-eval.
//
// Layers, lowest first:
//   DistanceTransform  exact anisotropic squared EDT (Felzenszwalb–Huttenlocher)
//   MaskBox            joint bounding box + 1-voxel margin, surface voxels (6-connectivity)
//   LabelMetrics       Dice, HD, HD95 (directed | pooled), ASSD, surface Dice; empty-mask policy
//   Statistics         numpy-compatible percentiles, MetricSummary (nan/inf counted, excluded)
//   CaseMatching, LabelsAndGroups, LabelVolume   inputs (NIfTI folders/files, dataset.json, groups)
//   Evaluator          (case, method, label) scored concurrently
//   Robustness         per label and group: mean, std, percentiles, worst cases
//   ConsoleReport, FileReports (CSV, JSON), HTMLReport (+ BoxPlotSVG, SliceOverlay)
//   PNG, Canvas        public PNG encoder and raster drawing, reused by training plots
//   EvalCommand        the single library entry point of the dro-eval executable
