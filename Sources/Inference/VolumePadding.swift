/// Zero padding of a volume smaller than the sliding window, shared by validation and dro-infer.
public enum VolumePadding {
    /// C×`from` → C×`to` (each axis ≥), zeros appended at the far end of each axis.
    public static func pad(_ data: [Float], channels: Int, from: [Int], to: [Int]) -> [Float] {
        guard from != to else { return data }
        var out = [Float](repeating: 0, count: channels * to.reduce(1, *))
        let inVoxels = from.reduce(1, *), outVoxels = to.reduce(1, *)
        for c in 0..<channels {
            for z in 0..<from[0] {
                for y in 0..<from[1] {
                    let source = c * inVoxels + (z * from[1] + y) * from[2]
                    let target = c * outVoxels + (z * to[1] + y) * to[2]
                    for x in 0..<from[2] { out[target + x] = data[source + x] }
                }
            }
        }
        return out
    }

}
