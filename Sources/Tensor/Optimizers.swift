import Foundation

/// SGD with momentum, optional Nesterov, L2 weight decay — torch.optim.SGD semantics (dampening 0):
///   g ← g + wd·θ;  b ← μ·b + g  (b₀ = g, same as starting from b = 0);
///   step = nesterov ? g + μ·b : b;  θ ← θ − lr·step.
/// The momentum buffer shares the parameter arena's layout.
public final class SGDOptimizer: @unchecked Sendable {
    public var learningRate: Float
    public let momentum: Float
    public let nesterov: Bool
    public let weightDecay: Float
    public let velocity: FloatBuffer

    public init(count: Int, learningRate: Float, momentum: Float, nesterov: Bool, weightDecay: Float) {
        self.learningRate = learningRate; self.momentum = momentum
        self.nesterov = nesterov; self.weightDecay = weightDecay
        velocity = FloatBuffer(count: count)
    }

    public func step(parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>,
                     threads: Int = Parallel.defaultThreads) {
        let lr = learningRate, mu = momentum, wd = weightDecay, nest = nesterov, b = velocity.pointer
        Parallel.forEach(0..<velocity.count, threads: threads) { r in
            for i in r {
                let g = gradients[i] + wd * parameters[i]
                let v = mu * b[i] + g
                b[i] = v
                parameters[i] -= lr * (nest ? g + mu * v : v)
            }
        }
    }
}

/// AdamW — torch.optim.AdamW semantics (decoupled decay, bias-corrected, eps outside the root):
///   θ ← θ·(1 − lr·wd);  m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;
///   θ ← θ − lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + eps).
public final class AdamWOptimizer: @unchecked Sendable {
    public var learningRate: Float
    public let beta1: Float, beta2: Float, eps: Float, weightDecay: Float
    public let firstMoment: FloatBuffer
    public let secondMoment: FloatBuffer
    public private(set) var stepCount = 0

    /// torch defaults: betas (0.9, 0.999), eps 1e-8, weight decay 0.01.
    public init(count: Int, learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999,
                eps: Float = 1e-8, weightDecay: Float = 0.01) {
        self.learningRate = learningRate; self.beta1 = beta1; self.beta2 = beta2
        self.eps = eps; self.weightDecay = weightDecay
        firstMoment = FloatBuffer(count: count)
        secondMoment = FloatBuffer(count: count)
    }

    /// Sets the number of steps already taken (its bias corrections use it), when resuming from
    /// saved moments. `steps` must be ≥ 0; callers validate stored values first.
    public func restore(stepCount steps: Int) {
        stepCount = max(0, steps)
    }

    public func step(parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>,
                     threads: Int = Parallel.defaultThreads) {
        stepCount += 1
        let t = Double(stepCount)
        let bc1 = Float(1 - pow(Double(beta1), t)), bc2sqrt = Float((1 - pow(Double(beta2), t)).squareRoot())
        let lr = learningRate, b1 = beta1, b2 = beta2, e = eps, decay = 1 - learningRate * weightDecay
        let m = firstMoment.pointer, v = secondMoment.pointer
        Parallel.forEach(0..<firstMoment.count, threads: threads) { r in
            for i in r {
                let g = gradients[i]
                parameters[i] *= decay
                m[i] = b1 * m[i] + (1 - b1) * g
                v[i] = b2 * v[i] + (1 - b2) * g * g
                parameters[i] -= (lr / bc1) * m[i] / (v[i].squareRoot() / bc2sqrt + e)
            }
        }
    }
}
