import Foundation

/// The plan as a dro-train config, every choice commented with its reason, and the table.
public enum PlanWriter {
    static func list(_ v: [Int]) -> String { "[" + v.map(String.init).joined(separator: ", ") + "]" }
    static func mm(_ v: [Double]) -> String { "[" + v.map { String(format: "%.4g", $0) }.joined(separator: ", ") + "]" }
    static func hms(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return String(format: "%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60)
    }

    /// The candidate table printed by dro-plan.
    public static func table(_ plan: Plan) -> String {
        var lines = ["patch          features                   params     GB  s/step   how        epochs  iterations  val_every  predicted h"]
        for (i, r) in plan.rows.enumerated() {
            let patch = r.candidate.patch.map(String.init).joined(separator: "×")
            let params = r.parameters.map { String(format: "%.2fM", Double($0) / 1e6) } ?? "~" + String(format: "%.2fM", Double(Planner.approximateParameters(r.candidate, channels: plan.layout.channels.count, classes: plan.layout.classCount)) / 1e6)
            let step = r.stepSeconds.map { String(format: "%.3f", $0) } ?? "—"
            let how = r.tooLarge ? "memory" : r.timed ? "timed" : (r.stepSeconds == nil ? "—" : "predicted")
            let gb = String(format: "%.3g", r.memoryBytes / 1e9)
            let epochs = r.epochsFitting.map(String.init) ?? "—"
            let iterations = r.epochsFitting.map { String($0 * plan.model.iterationsPerEpoch) } ?? "—"
            let hours = r.predictedHours.map { String(format: "%.2f", $0) } ?? "—"
            let mark = i == plan.chosen ? " ← chosen" : ""
            lines.append(pad(patch, 14) + " " + pad("\(r.candidate.features)", 25) + " " + pad(params, 7, right: true) + " " + pad(gb, 6, right: true) + " "
                         + pad(step, 7, right: true) + "  " + pad(how, 9) + " " + pad(epochs, 7, right: true) + " "
                         + pad(iterations, 11, right: true) + " " + pad(r.validationEvery.map(String.init) ?? "—", 10, right: true)
                         + " " + pad(hours, 12, right: true) + mark)
        }
        return lines.joined(separator: "\n")
    }

    static func pad(_ s: String, _ n: Int, right: Bool = false) -> String {
        let fill = String(repeating: " ", count: max(0, n - s.count))
        return right ? fill + s : s + fill
    }

    /// The summary lines: the choice, its reason and its predicted time.
    public static func summary(_ plan: Plan) -> String {
        let c = plan.choice
        let predicted = plan.predictedSeconds
        var lines = [
            "chosen: patch \(list(c.candidate.patch)), features \(c.candidate.features): \(plan.reason)",
            String(format: "schedule: %d epochs × %d iterations = %d iterations at %.3f s/step", plan.epochs,
                   plan.model.iterationsPerEpoch, plan.totalIterations, plan.stepSeconds)
                + (plan.request.ranks > 1 ? String(format: " (%.3f s compute + %.3f s modelled allreduce over %d ranks)",
                                                   c.stepSeconds ?? 0, plan.allreduceSeconds, plan.request.ranks) : ""),
            String(format: "predicted: %@ in all (loading %@, training %@, %d validations %@) against a budget of %@",
                   hms(predicted) as NSString, hms(plan.model.startupSeconds) as NSString,
                   hms(Double(plan.totalIterations) * plan.stepSeconds) as NSString,
                   TimeModel.validations(epochs: plan.epochs, every: plan.validationEvery),
                   hms(Double(TimeModel.validations(epochs: plan.epochs, every: plan.validationEvery))
                       * plan.model.validationSeconds(forwardSeconds: c.forwardSeconds ?? 0)) as NSString,
                   hms(plan.request.budgetHours * 3600) as NSString),
        ]
        if let note = loadNote(plan) { lines.append(note) }
        return lines.joined(separator: "\n")
    }

    /// Timings hold for the machine as busy as it was while they were taken.
    static func loadNote(_ plan: Plan) -> String? {
        guard let load = plan.load else { return nil }
        let busy = load.average > Double(load.cores) * 0.75
        return String(format: "timed at a load average of %.1f on %d cores", load.average, load.cores)
            + (busy ? ": other work shared the cores; steps will be faster on an idle machine, slower on a busier one" : "")
    }

    /// The config text.
    public static func config(_ plan: Plan, output: String, planCommand: String) -> String {
        let c = plan.choice
        let fp = plan.fingerprint
        let t = c.candidate.topology
        let spacingReason: String
        if let a = plan.anisotropicAxis {
            spacingReason = "median spacing, except axis \(["x", "y", "z"][a]) (> 3× coarser, 3× fewer voxels): its 10th percentile"
        } else {
            spacingReason = "median spacing of the \(fp.cases.count) cases (nnU-Net's rule)"
        }
        let predicted = plan.predictedSeconds
        var s = """
        # Planned by dro-plan for \(plan.layout.root ?? "the dataset") on this machine
        # (\(plan.request.threads) threads, \(plan.request.ranks) rank\(plan.request.ranks == 1 ? "" : "s"), budget \(PlanError.hours(plan.request.budgetHours)) h).
        # Expected: \(String(format: "%.3f", plan.stepSeconds)) s per step, \(plan.totalIterations) steps, \(hms(predicted)) in all
        #   (cases loaded \(hms(plan.model.startupSeconds)), validation every \(plan.validationEvery) epochs included);
        #   \(loadNote(plan) ?? "timed on this machine").
        # Re-plan for another machine, budget or number of ranks (R machines, each with these threads):
        #   \(planCommand)
        # Rules and their sources: docs/planning.md. Fingerprint: the JSON file next to this config.

        data:
          dataset: \(plan.layout.root ?? "")
          layout: auto
          folds: 5             # nnU-Net's 5-fold cross-validation, split per group (seeded by split_seed)
          fold: 0              # train folds 0…4 with the same config, then dro-infer --ensemble (README)
          split_seed: 0
          target_spacing: \(mm(plan.targetSpacing))   # mm x y z: \(spacingReason)
          cache: auto          # in memory while it fits in half the available RAM, else <output.dir>/cache

        model:
          features: \(list(c.candidate.features))   # nnU-Net's ladder min(320, base·2^level); \(t.levels) levels from the patch's poolings; base \(c.candidate.features[0]) \(c.candidate.features[0] == 32 ? "(nnU-Net's)" : "(narrower than nnU-Net's 32: the budget)")

        """
        if !t.isIsotropic {
            s += """
              kernel_sizes: [\(t.kernels.map { list($0) }.joined(separator: ", "))]   # 1 on an axis still > 2× coarser than the finest (nnU-Net's rule)
              pool_strides: [\(t.strides.map { list($0) }.joined(separator: ", "))]   # pool an axis while within 2× of the finest spacing and ≥ 8 voxels

            """
        } else {
            s += "  # kernel_sizes / pool_strides: null (3×3×3 kernels, every axis pooled at every level: isotropic after resampling)\n"
        }
        s += """
          deep_supervision: false

        sampler:               # the paper's hardness weighted sampler (docs/method.md §2)
          kind: hardness
          beta: 100
          momentum: 0
          init_loss: 2.0
          importance_sampling: false
          unit: case

        training:
          patch_size: \(list(c.candidate.patch))   # nnU-Net's patch sequence (aspect 1/spacing, clipped to the median shape \(list(plan.medianShape)), shrunk axis by axis): the largest that fits the budget
          batch_size: \(plan.request.batch)         # nnU-Net's minimum batch
          epochs: \(plan.epochs)           # as many as fit the budget (at most nnU-Net's 1000); an epoch = ⌈\(plan.trainingCases) cases / \(plan.request.batch * plan.request.ranks)⌉ = \(plan.model.iterationsPerEpoch) iterations
          optimizer: sgd       # nnU-Net's and the authors' SGD
          lr: 0.01
          momentum: 0.99
          nesterov: true
          weight_decay: 3.0e-5
          grad_clip: 12
          poly_exponent: 0.9
          seed: 0
          threads: \(plan.request.threads)
          val_every: \(plan.validationEvery)         # validation (sliding window over \(plan.validationCases) cases) kept under 10 % of the steps' time

        inference:
          overlap: 0.5

        output:
          dir: \(output)
          checkpoint_every: \(max(1, min(50, plan.epochs / 4)))

        """
        return s
    }
}
