import Tensor
import Model

extension UNet3D {
    /// One forward of `x` ([batch, inChannels, spatial]), the Dice+CE loss against `labels`
    /// ([batch, spatial]) and the backward: the logits and the whole gradient arena, for tests
    /// that compare two configurations of the same network.
    package func lossStep(x: [Float], labels: [Int32], batch: Int, spatial: [Int]) throws
        -> (logits: [Float], gradients: [Float]) {
        let v = spatial.reduce(1, *), classes = options.classes
        let logits = try x.withUnsafeBufferPointer { try forward($0.baseAddress!, batch: batch, spatial: spatial) }
        var dl = [Float](repeating: 0, count: batch * classes * v)
        _ = try labels.withUnsafeBufferPointer {
            try DiceCELoss().evaluate(logits: logits, labels: $0.baseAddress!, batch: batch, classes: classes,
                                      voxels: v, gradient: &dl, workspace: Workspace())
        }
        let out = Array(UnsafeBufferPointer(start: logits, count: batch * classes * v))
        try dl.withUnsafeBufferPointer { try backward($0.baseAddress!) }
        return (out, arena.gradients.array)
    }
}
