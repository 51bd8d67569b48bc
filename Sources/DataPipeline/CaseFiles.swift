import Config

/// The files of one case: one image per channel (or one 4-D image holding every channel),
/// an optional label map, and the case's group (from the groups CSV or the case list).
public struct CaseFiles: Equatable, Sendable {
    public var id: String
    /// One path per channel in channel order, or a single 4-D file when `multiChannelFile`.
    public var channelPaths: [String]
    /// True when `channelPaths` is one file whose 4th dimension holds the channels (MSD).
    public var multiChannelFile: Bool
    public var labelPath: String?
    public var group: String?

    public init(id: String, channelPaths: [String], multiChannelFile: Bool = false,
                labelPath: String?, group: String? = nil) {
        self.id = id
        self.channelPaths = channelPaths
        self.multiChannelFile = multiChannelFile
        self.labelPath = labelPath
        self.group = group
    }
}

/// A discovered dataset: its layout, channel and label definitions, and the files of every case.
/// Training, dry runs and inference all start from `DatasetLayout.discover`.
public struct DatasetLayout: Equatable, Sendable {
    /// The layout actually found (never `.auto`).
    public var kind: DatasetLayoutKind
    /// The dataset folder (nil for an explicit case list without one).
    public var root: String?
    /// Channel names in channel order (config's names when given, else dataset.json's).
    public var channels: [String]
    /// Labels sorted by value, consecutive from background 0.
    public var labels: [LabelDefinition]
    /// Training cases (with labels), sorted by id.
    public var cases: [CaseFiles]
    /// Test images without labels (nnU-Net imagesTs, MSD "test").
    public var testCases: [CaseFiles]
    /// Remarks that are not errors (e.g. the config renames the dataset's labels).
    public var notes: [String]

    public init(kind: DatasetLayoutKind, root: String?, channels: [String], labels: [LabelDefinition],
                cases: [CaseFiles], testCases: [CaseFiles] = [], notes: [String] = []) {
        self.kind = kind; self.root = root; self.channels = channels; self.labels = labels
        self.cases = cases; self.testCases = testCases; self.notes = notes
    }

    /// Number of output classes of the network (labels including background).
    public var classCount: Int { labels.count }
}
