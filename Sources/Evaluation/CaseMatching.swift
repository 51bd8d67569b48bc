import Foundation

/// One case to score: its id and the files of each side.
public struct CasePaths: Sendable, Equatable {
    public var caseID: String
    public var gt: String
    /// One prediction per method (the primary first, then `--compare`).
    public var predictions: [String]
}

/// Cases matched by id between a ground-truth side and one or more prediction sides.
public struct CaseMatch: Sendable, Equatable {
    public var cases: [CasePaths]
    /// Ground-truth cases missing from a prediction folder: (case, prediction folder).
    public var missingPredictions: [(caseID: String, folder: String)]
    /// Predictions without a ground truth: (case, prediction folder).
    public var missingGroundTruth: [(caseID: String, folder: String)]

    public static func == (a: CaseMatch, b: CaseMatch) -> Bool {
        a.cases == b.cases && a.missingPredictions.map { $0.caseID + $0.folder } == b.missingPredictions.map { $0.caseID + $0.folder }
            && a.missingGroundTruth.map { $0.caseID + $0.folder } == b.missingGroundTruth.map { $0.caseID + $0.folder }
    }
}

/// nnU-Net naming: CASE.nii.gz (or .nii) in a folder.
public enum CaseMatching {
    /// Extensions recognised as NIfTI volumes, longest first.
    static let extensions = [".nii.gz", ".nii"]

    /// Case id of a file name (extension removed), nil for non-NIfTI names.
    public static func caseID(fileName: String) -> String? {
        for ext in extensions where fileName.hasSuffix(ext) && fileName.count > ext.count {
            return String(fileName.dropLast(ext.count))
        }
        return nil
    }

    /// Matches a ground-truth path with prediction paths: all folders (cases by id) or all files
    /// (one case named after the ground-truth file).
    public static func match(gt: String, predictions: [String], predOptions: [String]) throws -> CaseMatch {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: gt, isDirectory: &isDir) else {
            throw EvaluationError.missingPath(option: "--gt", path: gt)
        }
        let gtIsDir = isDir.boolValue
        for (pred, option) in zip(predictions, predOptions) {
            var predIsDir: ObjCBool = false
            guard fm.fileExists(atPath: pred, isDirectory: &predIsDir) else {
                throw EvaluationError.missingPath(option: option, path: pred)
            }
            if predIsDir.boolValue != gtIsDir { throw EvaluationError.mixedInputs(pred: pred, gt: gt) }
        }
        if !gtIsDir {
            let name = (gt as NSString).lastPathComponent
            let id = caseID(fileName: name) ?? name
            return CaseMatch(cases: [CasePaths(caseID: id, gt: gt, predictions: predictions)],
                             missingPredictions: [], missingGroundTruth: [])
        }
        let gtFiles = try listCases(gt)
        if gtFiles.isEmpty { throw EvaluationError.noCases(folder: gt) }
        var predFiles: [[String: String]] = []
        for pred in predictions { predFiles.append(try listCases(pred)) }
        var result = CaseMatch(cases: [], missingPredictions: [], missingGroundTruth: [])
        for id in gtFiles.keys.sorted() {
            var paths: [String] = []
            for (m, files) in predFiles.enumerated() {
                if let p = files[id] { paths.append(p) } else {
                    result.missingPredictions.append((id, predictions[m]))
                }
            }
            if paths.count == predictions.count {
                result.cases.append(CasePaths(caseID: id, gt: gtFiles[id]!, predictions: paths))
            }
        }
        for (m, files) in predFiles.enumerated() {
            for id in files.keys.sorted() where gtFiles[id] == nil {
                result.missingGroundTruth.append((id, predictions[m]))
            }
        }
        return result
    }

    /// Case id → path of the NIfTI files of a folder (not recursive).
    static func listCases(_ folder: String) throws -> [String: String] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: folder) } catch {
            throw EvaluationError.unreadable(path: folder, reason: error.localizedDescription)
        }
        var out: [String: String] = [:]
        for name in names.sorted() {
            guard let id = caseID(fileName: name) else { continue }
            out[id] = (folder as NSString).appendingPathComponent(name)
        }
        return out
    }

    /// Intensity image of a case: `location` is a file (single-case mode) or a folder holding
    /// CASE_0000.nii.gz (nnU-Net channel 0) or CASE.nii.gz (or the .nii variants).
    public static func imagePath(caseID: String, location: String) throws -> String {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: location, isDirectory: &isDir) else {
            throw EvaluationError.missingPath(option: "--image", path: location)
        }
        if !isDir.boolValue { return location }
        for stem in [caseID + "_0000", caseID] {
            for ext in extensions {
                let p = (location as NSString).appendingPathComponent(stem + ext)
                if FileManager.default.fileExists(atPath: p) { return p }
            }
        }
        throw EvaluationError.imageNotFound(caseID: caseID, location: location)
    }
}
