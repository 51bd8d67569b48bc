// CSV export of the hardness sampler's state, one row per sample:
//   index,case_id,stale_loss,probability,times_drawn              (sampler.unit: case)
//   index,case_id,stale_loss,probability,times_drawn,cell_x,cell_y,cell_z   (sampler.unit: patch)
// Numbers are printed in Swift's shortest round-trip form, so they parse back exactly.

import Foundation

/// What each sample index stands for, to label CSV rows.
public enum SampleLabels {
    /// Sample i is case `ids[i]`.
    case cases([String])
    /// Sample i is a patch cell.
    case cells(PatchCells)
}

extension HardnessWeightedSampler {
    /// The CSV described above; throws when the labels do not cover exactly N samples.
    public func csv(labels: SampleLabels) throws -> String {
        let n: Int
        switch labels {
        case .cases(let ids): n = ids.count
        case .cells(let cells): n = cells.count
        }
        guard n == count else { throw SamplerError.sampleCountMismatch(checkpoint: count, expected: n) }
        let p = probabilities()
        var out = "index,case_id,stale_loss,probability,times_drawn"
        if case .cells = labels { out += ",cell_x,cell_y,cell_z" }
        out += "\n"
        for i in 0 ..< count {
            var row = ""
            switch labels {
            case .cases(let ids):
                row = "\(i),\(csvField(ids[i])),\(staleLosses[i]),\(p[i]),\(drawCounts[i])"
            case .cells(let cells):
                if let (c, o) = cells.cell(i) {
                    row = "\(i),\(csvField(cells.caseID(c))),\(staleLosses[i]),\(p[i]),\(drawCounts[i]),\(o.x),\(o.y),\(o.z)"
                }
            }
            out += row + "\n"
        }
        return out
    }
}

/// RFC 4180 quoting when the field holds a comma, quote or line break.
func csvField(_ s: String) -> String {
    guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
    return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
}
