import Common
import Foundation

/// The seed of a fuzz run: `DRO_FUZZ_SEED=N` repeats a run, otherwise a random one. Printed
/// with the fuzzer's name so a failing CI log says how to repeat it.
package enum FuzzSeed {
    package static func make(_ fuzzer: String) -> UInt64 {
        let seed: UInt64
        if let text = ProcessInfo.processInfo.environment["DRO_FUZZ_SEED"], let s = UInt64(text) {
            seed = s
        } else {
            seed = UInt64.random(in: 1...UInt64(UInt32.max))
        }
        print("\(fuzzer): seed \(seed) (repeat with DRO_FUZZ_SEED=\(seed))")
        return seed
    }
}

/// Seeded mutation operators on bytes and on text, shared by the NIfTI, checkpoint, case cache
/// and config fuzzers. Every choice comes from one SplitMix64, so a seed repeats a run exactly.
package struct FuzzMutator {
    package var rng: SplitMix64

    package init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    /// Uniform in 0..<n (0 when n ≤ 1).
    package mutating func random(_ n: Int) -> Int { Int(rng.next() % UInt64(max(n, 1))) }

    /// One of `choices`.
    package mutating func pick<T>(_ choices: [T]) -> T { choices[random(choices.count)] }

    // MARK: bytes

    /// Extreme integers for 2-, 4- and 8-byte fields: 0, −1, signed/unsigned limits, small sizes.
    package static let extremeWords: [UInt64] = [
        0, 1, 8, 0xFFFF_FFFF_FFFF_FFFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF,
        0x1_0000_0000, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, 0x0000_0100_0000_0000,
    ]

    /// 1–5 random bit flips in `range` (default: the whole input).
    package mutating func flipBits(_ b: inout [UInt8], in range: Range<Int>? = nil) {
        let r = (range ?? 0..<b.count).clamped(to: 0..<b.count)
        guard !r.isEmpty else { return }
        for _ in 0...random(5) { b[r.lowerBound + random(r.count)] ^= UInt8(1 << random(8)) }
    }

    /// 1–5 bytes in `range` set to random values.
    package mutating func setBytes(_ b: inout [UInt8], in range: Range<Int>? = nil) {
        let r = (range ?? 0..<b.count).clamped(to: 0..<b.count)
        guard !r.isEmpty else { return }
        for _ in 0...random(5) { b[r.lowerBound + random(r.count)] = UInt8(random(256)) }
    }

    /// A little-endian word of `width` bytes at `at` set to an extreme value (1 in 8: random).
    package mutating func setWord(_ b: inout [UInt8], at: Int, width: Int) {
        let w = random(8) == 7 ? rng.next() : pick(FuzzMutator.extremeWords)
        for k in 0..<max(0, min(width, b.count - at)) { b[at + k] = UInt8(truncatingIfNeeded: w >> (8 * k)) }
    }

    /// A word of 2, 4 or 8 bytes at a random offset in `range` set to an extreme value.
    package mutating func setWord(_ b: inout [UInt8], in range: Range<Int>? = nil) {
        let r = (range ?? 0..<b.count).clamped(to: 0..<b.count)
        guard !r.isEmpty else { return }
        setWord(&b, at: r.lowerBound + random(r.count), width: pick([2, 4, 8]))
    }

    /// Cut at a random length (possibly 0).
    package mutating func truncate(_ b: inout [UInt8]) { b = Array(b.prefix(random(b.count))) }

    /// 1–16 random bytes inserted at a random offset.
    package mutating func insertBytes(_ b: inout [UInt8]) {
        let at = random(b.count + 1)
        b.insert(contentsOf: (0...random(16)).map { _ in UInt8(random(256)) }, at: at)
    }

    /// 1–16 bytes removed at a random offset.
    package mutating func deleteBytes(_ b: inout [UInt8]) {
        guard !b.isEmpty else { return }
        let at = random(b.count)
        b.removeSubrange(at..<min(b.count, at + 1 + random(16)))
    }

    /// One of the byte operators above, at random.
    package mutating func mutateBytes(_ b: inout [UInt8], in range: Range<Int>? = nil) {
        switch random(6) {
        case 0: flipBits(&b, in: range)
        case 1: setBytes(&b, in: range)
        case 2: setWord(&b, in: range)
        case 3: truncate(&b)
        case 4: insertBytes(&b)
        default: deleteBytes(&b)
        }
    }

    // MARK: text (JSON, YAML)

    /// Values that break naive readers: huge, negative, non-finite, wrong types, odd unicode.
    package static let hostileValues: [String] = [
        "0", "-1", "-0", "1.5", "1e308", "-1e308", "1e-320", "2147483648", "4294967296", "65536", "999999999999",
        "9223372036854775807", "-9223372036854775808", "18446744073709551616", "1e999", "NaN", ".nan", "nan",
        "inf", ".inf", "-.inf", "Infinity", "null", "~", "true", "false", "\"\"", "\"x\"", "[]", "{}", "[1, 2, 3]",
        "[1e308, -1, 0]", "{\"a\": 1}", "'a'", "yes", "0x10", "0o17", "1_000", "\"\u{202E}\u{0000}\"",
        "\"\u{1F9E0}\u{0301}\"", "é", "\u{FEFF}", "- 1", "&a", "*a", "!!binary AAAA", "|", ">", "\"\\ud800\"",
    ]

    /// Byte ranges of scalar tokens (numbers, words, quoted strings) in `text`.
    package static func scalarTokens(_ text: [UInt8]) -> [Range<Int>] {
        var tokens: [Range<Int>] = []
        var i = 0
        func isScalar(_ c: UInt8) -> Bool {
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2E || c == 0x2D
                || c == 0x2B || c == 0x5F || c >= 0x80
        }
        while i < text.count {
            let c = text[i]
            if c == 0x22 {   // "…"
                var j = i + 1
                while j < text.count && text[j] != 0x22 { j += text[j] == 0x5C ? 2 : 1 }
                tokens.append(i..<min(j + 1, text.count))
                i = j + 1
            } else if isScalar(c) {
                var j = i
                while j < text.count && isScalar(text[j]) { j += 1 }
                tokens.append(i..<j)
                i = j
            } else {
                i += 1
            }
        }
        return tokens
    }

    /// One text mutation: replace a scalar by a hostile value, swap two scalars (values between
    /// keys), delete / duplicate / swap lines, change a line's indentation, insert random bytes
    /// or unicode, truncate. Returns the operator's name with the mutated text.
    package mutating func mutateText(_ input: [UInt8]) -> (operation: String, text: [UInt8]) {
        var text = input
        var lines = text.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
        func joined() -> [UInt8] { Array(lines.joined(separator: [0x0A])) }
        let tokens = FuzzMutator.scalarTokens(text)
        switch random(12) {
        case 0, 1, 2:
            guard let t = tokens.isEmpty ? nil : pick(tokens) else { break }
            text.replaceSubrange(t, with: Array(pick(FuzzMutator.hostileValues).utf8))
            return ("replace a value", text)
        case 3, 4:
            guard tokens.count >= 2 else { break }
            let (a, b) = (pick(tokens), pick(tokens))
            let (first, second) = a.lowerBound <= b.lowerBound ? (a, b) : (b, a)
            guard first.upperBound <= second.lowerBound else { break }
            let x = Array(text[first]), y = Array(text[second])
            text.replaceSubrange(second, with: x)
            text.replaceSubrange(first, with: y)
            return ("swap two values", text)
        case 5:
            lines.remove(at: random(lines.count))
            return ("delete a line", joined())
        case 6:
            let k = random(lines.count)
            lines.insert(lines[k], at: random(lines.count + 1))
            return ("duplicate a line", joined())
        case 7:
            let k = random(lines.count)
            let spaces = lines[k].prefix { $0 == 0x20 }.count
            let body = Array(lines[k].dropFirst(spaces))
            let indent = pick([0, 1, 2, 3, 4, 6, 8, 40, spaces + 2, max(0, spaces - 2)])
            lines[k] = (random(6) == 0 ? [0x09] : []) + [UInt8](repeating: 0x20, count: indent) + body
            return ("change indentation", joined())
        case 8:
            let a = random(lines.count), b = random(lines.count)
            lines.swapAt(a, b)
            return ("swap two lines", joined())
        case 9:
            let at = random(text.count + 1)
            let inserted: [UInt8] = random(2) == 0
                ? (0...random(8)).map { _ in UInt8(random(256)) }
                : Array(pick(["\u{0000}", "\u{FEFF}", "\u{202E}", "é", "\u{1F9E0}", "\t", "\r", ":", ": ", "- ",
                              "#", "{", "[", "\"", "'", "&", "*", "!", "%", "@", "`", "|"]).utf8)
            text.insert(contentsOf: inserted, at: at)
            return ("insert bytes", text)
        case 10:
            truncate(&text)
            return ("truncate", text)
        default:
            flipBits(&text)
            return ("flip bits", text)
        }
        // Fallback when the chosen operator had nothing to work on.
        insertBytes(&text)
        return ("insert bytes", text)
    }
}

/// Wall-clock time per input: the slowest one, for the report (and the time bound).
package struct FuzzClock {
    package private(set) var slowest = 0.0
    package private(set) var slowestLabel = ""
    var started = 0.0

    package init() {}

    package mutating func start() { started = Date().timeIntervalSinceReferenceDate }

    package mutating func stop(_ label: @autoclosure () -> String) {
        let seconds = Date().timeIntervalSinceReferenceDate - started
        if seconds > slowest { slowest = seconds; slowestLabel = label() }
        FuzzCrashReport.finished()
    }

    package var summary: String { String(format: "slowest input %.3f s (%@)", slowest, slowestLabel) }
}
