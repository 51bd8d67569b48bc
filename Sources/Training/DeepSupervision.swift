/// Label maps for nnU-Net's deep-supervision outputs.
enum DeepSupervision {
    /// Labels [N, D, H, W] → [N, D/s, H/s, W/s] with s = 2^level by nearest-exact sampling, as
    /// nnU-Net v2's DownsampleSegForDSTransform (torch interpolate mode "nearest-exact"): output
    /// voxel i takes input ⌊(i + ½)·s⌋ = i·s + s/2 on every axis. Sizes are multiples of s.
    static func downsample(_ labels: [Int32], batch n: Int, spatial: [Int], level: Int) -> [Int32] {
        let s = 1 << level
        return downsample(labels, batch: n, spatial: spatial, scale: [s, s, s])
    }

    /// The same with a factor per axis, scale [sD, sH, sW] (a network with per-axis pool strides:
    /// the level's `UNet3DOptions.levelScale` in tensor order). A factor 1 keeps that axis.
    static func downsample(_ labels: [Int32], batch n: Int, spatial: [Int], scale: [Int]) -> [Int32] {
        let (sd, sh, sw) = (scale[0], scale[1], scale[2])
        let (d, h, w) = (spatial[0], spatial[1], spatial[2])
        let (od, oh, ow) = (d / sd, h / sh, w / sw)
        var out = [Int32](repeating: 0, count: n * od * oh * ow)
        var o = 0
        for i in 0..<n {
            for z in 0..<od {
                for y in 0..<oh {
                    let row = ((i * d + z * sd + sd / 2) * h + y * sh + sh / 2) * w + sw / 2
                    for x in 0..<ow { out[o] = labels[row + x * sw]; o += 1 }
                }
            }
        }
        return out
    }
}
