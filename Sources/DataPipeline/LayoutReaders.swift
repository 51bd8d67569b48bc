import Config
import Foundation

/// File endings the NIfTI reader understands.
private let niftiEndings = [".nii.gz", ".nii"]

/// nnU-Net v2 channel suffix: CASE_0000 (four digits).
private let nnunetChannelDigits = 4

extension DatasetLayout {
    /// nnU-Net v2 raw: imagesTr/CASE_XXXX<ending> (one per channel), labelsTr/CASE<ending>,
    /// optional imagesTs/.
    static func discoverNNUNet(root: String, json: DatasetJSON, problems: inout [DatasetProblem]) -> DatasetLayout? {
        let (channels, channelProblems) = json.channelNames(field: "channel_names")
        let (labels, labelProblems) = json.labels(msd: false)
        problems += channelProblems + labelProblems
        let ending = json.object["file_ending"]?.string ?? DatasetJSON.defaultFileEnding
        guard niftiEndings.contains(ending) else {
            problems.append(json.problem("file_ending", json.object["file_ending"], "\".nii.gz\" or \".nii\""))
            return nil
        }
        guard !channels.isEmpty else { return nil }
        let training = nnunetCases(folder: root + "/imagesTr", labels: root + "/labelsTr", ending: ending,
                                   channels: channels, problems: &problems)
        let test = DatasetFiles.directoryExists(root + "/imagesTs")
            ? nnunetCases(folder: root + "/imagesTs", labels: nil, ending: ending, channels: channels, problems: &problems)
            : []
        if let declared = json.numTraining, declared != training.count {
            problems.append(.caseCount(path: json.path, declared: declared, found: training.count))
        }
        return DatasetLayout(kind: .nnunet, root: root, channels: channels, labels: labels,
                             cases: training, testCases: test)
    }

    private static func nnunetCases(folder: String, labels labelFolder: String?, ending: String, channels: [String],
                                    problems: inout [DatasetProblem]) -> [CaseFiles] {
        if !DatasetFiles.directoryExists(folder) && labelFolder != nil {
            problems.append(.strayFile(path: folder, reason: "folder missing (nnU-Net v2 keeps training images in imagesTr)"))
        }
        var ids = Set<String>()
        for name in DatasetFiles.list(folder, problems: &problems) {
            guard name.hasSuffix(ending) else {
                problems.append(.strayFile(path: "\(folder)/\(name)", reason: "does not end with the dataset's file_ending \(ending)"))
                continue
            }
            let stem = String(name.dropLast(ending.count))
            let parts = stem.split(separator: "_")
            guard let last = parts.last, parts.count >= 2, last.count == nnunetChannelDigits,
                  let channel = Int(last) else {
                problems.append(.strayFile(path: "\(folder)/\(name)", reason: "name is not CASE_XXXX\(ending) (4-digit channel index)"))
                continue
            }
            guard channel < channels.count else {
                problems.append(.strayFile(path: "\(folder)/\(name)",
                                           reason: "channel \(channel) but dataset.json declares \(channels.count) channel(s)"))
                continue
            }
            ids.insert(String(stem.dropLast(nnunetChannelDigits + 1)))
        }
        if let labelFolder {
            if !DatasetFiles.directoryExists(labelFolder) {
                problems.append(.strayFile(path: labelFolder, reason: "folder missing (nnU-Net v2 keeps labels in labelsTr)"))
            }
            for name in DatasetFiles.list(labelFolder, problems: &problems) where name.hasSuffix(ending) { ids.insert(String(name.dropLast(ending.count))) }
        }
        return ids.sorted().map { id in
            let paths = channels.indices.map { "\(folder)/\(id)_\(String(format: "%04d", $0))\(ending)" }
            for (c, path) in paths.enumerated() where !DatasetFiles.fileExists(path) {
                problems.append(.missingImage(caseID: id, channel: "\(c) (\(channels[c]))", path: path))
            }
            let label = labelFolder.map { "\($0)/\(id)\(ending)" }
            if let label, !DatasetFiles.fileExists(label) { problems.append(.missingLabel(caseID: id, path: label)) }
            return CaseFiles(id: id, channelPaths: paths, labelPath: label)
        }
    }

    /// MSD: dataset.json lists "training" pairs (paths relative to the dataset folder); images
    /// with several modalities are 4-D.
    static func discoverMSD(root: String, json: DatasetJSON, problems: inout [DatasetProblem]) -> DatasetLayout? {
        let (channels, channelProblems) = json.channelNames(field: "modality")
        let (labels, labelProblems) = json.labels(msd: true)
        problems += channelProblems + labelProblems
        guard let training = json.object["training"]?.array else {
            problems.append(json.problem("training", json.object["training"], "a list of {\"image\": ..., \"label\": ...}"))
            return nil
        }
        var cases: [CaseFiles] = []
        for (i, entry) in training.enumerated() {
            guard let image = entry["image"]?.string, let label = entry["label"]?.string else {
                problems.append(json.problem("training[\(i)]", entry, "{\"image\": \"./imagesTr/x.nii.gz\", \"label\": \"./labelsTr/x.nii.gz\"}"))
                continue
            }
            let id = caseID(fromPath: image)
            let imagePath = join(root, image), labelPath = join(root, label)
            if !DatasetFiles.fileExists(imagePath) { problems.append(.missingImage(caseID: id, channel: "all", path: imagePath)) }
            if !DatasetFiles.fileExists(labelPath) { problems.append(.missingLabel(caseID: id, path: labelPath)) }
            cases.append(CaseFiles(id: id, channelPaths: [imagePath], multiChannelFile: true, labelPath: labelPath))
        }
        let test = (json.object["test"]?.array ?? []).compactMap { $0.string }.map {
            CaseFiles(id: caseID(fromPath: $0), channelPaths: [join(root, $0)], multiChannelFile: true, labelPath: nil)
        }
        if let declared = json.numTraining, declared != cases.count {
            problems.append(.caseCount(path: json.path, declared: declared, found: cases.count))
        }
        return DatasetLayout(kind: .msd, root: root, channels: channels, labels: labels,
                             cases: cases.sorted { $0.id < $1.id }, testCases: test)
    }

    /// The explicit list of `data.cases`: one image per channel, or one 4-D image for all.
    static func discoverList(_ data: DataConfig, problems: inout [DatasetProblem]) -> DatasetLayout? {
        guard let labels = data.labels else {
            problems.append(.configKey(key: "data.labels", message: "an explicit case list needs the labels declared in the config"))
            return nil
        }
        let channelCount = data.channels?.count ?? data.cases.first?.images.count ?? 1
        let channels = data.channels ?? (0..<channelCount).map { "channel\($0)" }
        var cases: [CaseFiles] = []
        for (i, entry) in data.cases.enumerated() {
            let fourD = entry.images.count == 1 && channelCount > 1
            if entry.images.count != channelCount && !fourD {
                problems.append(.configKey(key: "data.cases[\(i)].images",
                    message: "case \(entry.id) lists \(entry.images.count) images for \(channelCount) channels (give one per channel, or one 4-D image)"))
            }
            for (c, path) in entry.images.enumerated() where !DatasetFiles.fileExists(path) {
                problems.append(.missingImage(caseID: entry.id, channel: fourD ? "all" : "\(c) (\(c < channels.count ? channels[c] : "?"))", path: path))
            }
            if let label = entry.label, !DatasetFiles.fileExists(label) { problems.append(.missingLabel(caseID: entry.id, path: label)) }
            if entry.label == nil {
                problems.append(.configKey(key: "data.cases[\(i)].label", message: "case \(entry.id) has no label file"))
            }
            cases.append(CaseFiles(id: entry.id, channelPaths: entry.images, multiChannelFile: fourD,
                                   labelPath: entry.label, group: entry.group))
        }
        return DatasetLayout(kind: .list, root: data.dataset, channels: channels,
                             labels: labels.sorted { $0.value < $1.value }, cases: cases)
    }
}

/// "./imagesTr/la_003.nii.gz" → "la_003".
private func caseID(fromPath path: String) -> String {
    var name = URL(fileURLWithPath: path).lastPathComponent
    for ending in niftiEndings where name.hasSuffix(ending) { name.removeLast(ending.count); break }
    return name
}

/// A dataset.json path joined to the dataset folder ("./x" and "x" alike; absolute kept).
private func join(_ root: String, _ path: String) -> String {
    if path.hasPrefix("/") { return path }
    return URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: root, isDirectory: true)).standardizedFileURL.path
}
