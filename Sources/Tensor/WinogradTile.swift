#if canImport(Glibc)
import Glibc
#endif

/// Which Winograd tile a stride-1, padding-1 3×3×3 layer runs: F(2,3) (`WinogradConv3d`, 2³
/// outputs per 4³ tile) or F(4,3) (`WinogradF43`, 4³ outputs per 6³ tile, 3.4 instead of 8
/// multiplies and transformed values per output, ~30× F(2,3)'s Float rounding error).
///
/// Rule (`choose`): F(4,3) where both channel counts are at most `maximumF43Channels` (its
/// error stays a stated margin below the 1e-4 tolerance there) and the volume is at least
/// `minimumF43Extent` on every axis (at 8³ F(4,3) is ~1.5× slower: 2 × 2 × 2 tiles per sample,
/// half-empty 8-tile vectors, and 216·Cout·Cin transformed weights against 16 tiles);
/// F(2,3) elsewhere. Figures: docs/performance.md, "Winograd F(4,3)".
/// `DRO_WINOGRAD_TILE=f23|f43` forces one tile for every such layer (back-to-back
/// measurements, cross-checks); unset or any other value = the rule.
public enum WinogradTile: String, Sendable, CaseIterable {
    case f23, f43

    /// Environment variable that overrides the rule.
    public static let overrideVariable = "DRO_WINOGRAD_TILE"

    /// The tile forced by `DRO_WINOGRAD_TILE`, if any.
    public static let requested: WinogradTile? = {
        guard let v = getenv(overrideVariable) else { return nil }
        return WinogradTile(rawValue: String(cString: v))
    }()

    /// Largest max(Cin, Cout) run on F(4,3) by default.
    public static let maximumF43Channels = 128
    /// Smallest D, H and W run on F(4,3) by default: 16 since the F(4,3) weight transforms store
    /// whole vectors (F(4,3) / F(2,3) at 16³, fwd + dx + dW, one thread: 0.84–0.94 at 64 → 64,
    /// 0.57–0.67 at 128 → 64; docs/performance.md, "2026-12-03 (later)").
    public static let minimumF43Extent = 16

    /// The rule without the override.
    public static func automatic(cin: Int, cout: Int, d: Int, h: Int, w: Int) -> WinogradTile {
        max(cin, cout) <= maximumF43Channels && min(d, h, w) >= minimumF43Extent ? .f43 : .f23
    }

    /// The tile this process runs for a layer (the override, else `automatic`).
    public static func choose(cin: Int, cout: Int, d: Int, h: Int, w: Int) -> WinogradTile {
        requested ?? automatic(cin: cin, cout: cout, d: d, h: h, w: w)
    }
}

/// The three passes of a stride-1, padding-1 3×3×3 layer on this tile's kernel (`WinogradConv3d`
/// or `WinogradF43`, same arguments and conventions), so that callers choosing a tile per layer
/// do not repeat each call for both.
extension WinogradTile {
    /// x: [N, Cin, D, H, W], weight: [Cout, Cin, 3, 3, 3], bias: [Cout] → y. Overwrites y.
    public func forward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                        y: UnsafeMutablePointer<Float>, n: Int, cin: Int, cout: Int, d: Int, h: Int, width: Int,
                        workspace: Workspace) {
        switch self {
        case .f23: WinogradConv3d.forward(x: x, weight: weight, bias: bias, y: y, n: n, cin: cin, cout: cout,
                                          d: d, h: h, width: width, workspace: workspace)
        case .f43: WinogradF43.forward(x: x, weight: weight, bias: bias, y: y, n: n, cin: cin, cout: cout,
                                       d: d, h: h, width: width, workspace: workspace)
        }
    }

    /// dy: [N, Cout, D, H, W] → dx: [N, Cin, D, H, W]. Overwrites dx.
    public func backwardInput(dy: UnsafePointer<Float>, weight: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                              n: Int, cin: Int, cout: Int, d: Int, h: Int, width: Int, workspace: Workspace) {
        switch self {
        case .f23: WinogradConv3d.backwardInput(dy: dy, weight: weight, dx: dx, n: n, cin: cin, cout: cout,
                                                d: d, h: h, width: width, workspace: workspace)
        case .f43: WinogradF43.backwardInput(dy: dy, weight: weight, dx: dx, n: n, cin: cin, cout: cout,
                                             d: d, h: h, width: width, workspace: workspace)
        }
    }

    /// ACCUMULATES dL/dweight into dweight and dL/dbias into dbias (may be nil).
    public func backwardWeight(x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dweight: UnsafeMutablePointer<Float>,
                               dbias: UnsafeMutablePointer<Float>?, n: Int, cin: Int, cout: Int, d: Int, h: Int,
                               width: Int, workspace: Workspace) {
        switch self {
        case .f23: WinogradConv3d.backwardWeight(x: x, dy: dy, dweight: dweight, dbias: dbias, n: n, cin: cin,
                                                 cout: cout, d: d, h: h, width: width, workspace: workspace)
        case .f43: WinogradF43.backwardWeight(x: x, dy: dy, dweight: dweight, dbias: dbias, n: n, cin: cin,
                                              cout: cout, d: d, h: h, width: width, workspace: workspace)
        }
    }
}
