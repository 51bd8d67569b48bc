import Tensor

/// Chooses the kernel for each convolution of the U-Net. Today: tiled im2col + sgemm for every
/// conv (the checked straightforward path). The Winograd F(2,3) kernels plug in here for the
/// stride-1 3×3×3 layers once the winograd branch lands.
enum ConvDispatch {
    /// Name of the kernel `forward`/`backward` use for g (for profiles).
    static func path(_ g: Conv3dGeometry) -> String { "im2col+sgemm" }

    static func forward(x: UnsafePointer<Float>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                        y: UnsafeMutablePointer<Float>, g: Conv3dGeometry, workspace: Workspace, threads: Int) {
        Conv3d.forward(x: x, w: w, bias: bias, y: y, g: g, workspace: workspace, threads: threads)
    }

    static func backward(x: UnsafePointer<Float>, w: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                         dx: UnsafeMutablePointer<Float>?, dw: UnsafeMutablePointer<Float>,
                         dbias: UnsafeMutablePointer<Float>?, g: Conv3dGeometry, workspace: Workspace,
                         accumulateInput: Bool, threads: Int) {
        Conv3d.backward(x: x, w: w, dy: dy, dx: dx, dw: dw, dbias: dbias, g: g, workspace: workspace,
                        accumulateInput: accumulateInput, threads: threads)
    }
}
