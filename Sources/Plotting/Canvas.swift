/// An RGB colour, 8 bits per channel.
public struct RGB: Sendable, Equatable {
    public var r: UInt8, g: UInt8, b: UInt8
    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) { self.r = r; self.g = g; self.b = b }
    public static let black = RGB(0, 0, 0)
    public static let white = RGB(255, 255, 255)
    public static let red = RGB(230, 40, 40)
    public static let green = RGB(40, 200, 60)
    public static let blue = RGB(40, 90, 230)
    public static let grey = RGB(128, 128, 128)
}

/// A tiny raster drawing surface over an RGB `PNGImage`: pixels, lines, rectangles and
/// 5×7 bitmap text (digits, upper-case letters, `. , - + : / % ( ) _ =` and space).
/// Coordinates are pixels, origin top-left, y down; drawing outside the canvas is clipped.
///
/// ```swift
/// var c = Canvas(width: 200, height: 100, background: .white)
/// c.line(x0: 10, y0: 90, x1: 190, y1: 10, colour: .blue)
/// c.text("LOSS 0.25", x: 12, y: 4, colour: .black)
/// try c.image.write(to: "curve.png")
/// ```
public struct Canvas: Sendable {
    public private(set) var image: PNGImage
    public var width: Int { image.width }
    public var height: Int { image.height }

    public init(width: Int, height: Int, background: RGB = .black) {
        image = PNGImage(width: width, height: height, channels: 3)
        fillRect(x: 0, y: 0, width: width, height: height, colour: background)
    }

    /// Sets one pixel (ignored outside the canvas).
    public mutating func set(x: Int, y: Int, _ c: RGB) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let i = 3 * (x + width * y)
        image.pixels[i] = c.r; image.pixels[i + 1] = c.g; image.pixels[i + 2] = c.b
    }

    /// Colour of one pixel inside the canvas.
    public func pixel(x: Int, y: Int) -> RGB {
        let i = 3 * (x + width * y)
        return RGB(image.pixels[i], image.pixels[i + 1], image.pixels[i + 2])
    }

    /// Straight line between two points, both ends included (Bresenham).
    public mutating func line(x0: Int, y0: Int, x1: Int, y1: Int, colour: RGB) {
        let dx = abs(x1 - x0), dy = -abs(y1 - y0)
        let sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1
        var err = dx + dy, x = x0, y = y0
        while true {
            set(x: x, y: y, colour)
            if x == x1 && y == y1 { return }
            let e2 = 2 * err
            if e2 >= dy { err += dy; x += sx }
            if e2 <= dx { err += dx; y += sy }
        }
    }

    /// Outline of a rectangle whose top-left corner is (x, y).
    public mutating func strokeRect(x: Int, y: Int, width w: Int, height h: Int, colour: RGB) {
        guard w > 0, h > 0 else { return }
        line(x0: x, y0: y, x1: x + w - 1, y1: y, colour: colour)
        line(x0: x, y0: y + h - 1, x1: x + w - 1, y1: y + h - 1, colour: colour)
        line(x0: x, y0: y, x1: x, y1: y + h - 1, colour: colour)
        line(x0: x + w - 1, y0: y, x1: x + w - 1, y1: y + h - 1, colour: colour)
    }

    /// Filled rectangle whose top-left corner is (x, y).
    public mutating func fillRect(x: Int, y: Int, width w: Int, height h: Int, colour: RGB) {
        for yy in max(0, y)..<max(max(0, y), min(height, y + h)) {
            for xx in max(0, x)..<max(max(0, x), min(width, x + w)) { set(x: xx, y: yy, colour) }
        }
    }

    /// Draws text in the 5×7 font, `scale` pixels per font dot, 1 dot between glyphs; letters are
    /// drawn upper-case, characters without a glyph as a blank. Returns the width drawn.
    @discardableResult
    public mutating func text(_ s: String, x: Int, y: Int, colour: RGB, scale: Int = 1) -> Int {
        var cx = x
        for ch in s.uppercased() {
            if let rows = BitmapFont.glyphs[ch] {
                for (row, bits) in rows.enumerated() {
                    for col in 0..<BitmapFont.width where bits & (1 << (BitmapFont.width - 1 - col)) != 0 {
                        fillRect(x: cx + col * scale, y: y + row * scale, width: scale, height: scale,
                                 colour: colour)
                    }
                }
            }
            cx += (BitmapFont.width + 1) * scale
        }
        return cx - x
    }
}

/// 5×7 bitmap glyphs: seven rows of five bits, most significant bit = leftmost column.
enum BitmapFont {
    static let width = 5
    static let height = 7
    static let glyphs: [Character: [UInt8]] = [
        "0": [14, 17, 19, 21, 25, 17, 14], "1": [4, 12, 4, 4, 4, 4, 14],
        "2": [14, 17, 1, 2, 4, 8, 31], "3": [31, 2, 4, 2, 1, 17, 14],
        "4": [2, 6, 10, 18, 31, 2, 2], "5": [31, 16, 30, 1, 1, 17, 14],
        "6": [6, 8, 16, 30, 17, 17, 14], "7": [31, 1, 2, 4, 8, 8, 8],
        "8": [14, 17, 17, 14, 17, 17, 14], "9": [14, 17, 17, 15, 1, 2, 12],
        "A": [14, 17, 17, 31, 17, 17, 17], "B": [30, 17, 17, 30, 17, 17, 30],
        "C": [14, 17, 16, 16, 16, 17, 14], "D": [28, 18, 17, 17, 17, 18, 28],
        "E": [31, 16, 16, 30, 16, 16, 31], "F": [31, 16, 16, 30, 16, 16, 16],
        "G": [14, 17, 16, 23, 17, 17, 15], "H": [17, 17, 17, 31, 17, 17, 17],
        "I": [14, 4, 4, 4, 4, 4, 14], "J": [7, 2, 2, 2, 2, 18, 12],
        "K": [17, 18, 20, 24, 20, 18, 17], "L": [16, 16, 16, 16, 16, 16, 31],
        "M": [17, 27, 21, 21, 17, 17, 17], "N": [17, 17, 25, 21, 19, 17, 17],
        "O": [14, 17, 17, 17, 17, 17, 14], "P": [30, 17, 17, 30, 16, 16, 16],
        "Q": [14, 17, 17, 17, 21, 18, 13], "R": [30, 17, 17, 30, 20, 18, 17],
        "S": [15, 16, 16, 14, 1, 1, 30], "T": [31, 4, 4, 4, 4, 4, 4],
        "U": [17, 17, 17, 17, 17, 17, 14], "V": [17, 17, 17, 17, 17, 10, 4],
        "W": [17, 17, 17, 21, 21, 21, 10], "X": [17, 17, 10, 4, 10, 17, 17],
        "Y": [17, 17, 17, 10, 4, 4, 4], "Z": [31, 1, 2, 4, 8, 16, 31],
        ".": [0, 0, 0, 0, 0, 12, 12], ",": [0, 0, 0, 0, 12, 4, 8],
        "-": [0, 0, 0, 31, 0, 0, 0], "+": [0, 4, 4, 31, 4, 4, 0],
        ":": [0, 12, 12, 0, 12, 12, 0], "/": [0, 1, 2, 4, 8, 16, 0],
        "%": [24, 25, 2, 4, 8, 19, 3], "(": [2, 4, 8, 8, 8, 4, 2],
        ")": [8, 4, 2, 2, 2, 4, 8], "_": [0, 0, 0, 0, 0, 0, 31],
        "=": [0, 0, 31, 0, 31, 0, 0], " ": [0, 0, 0, 0, 0, 0, 0],
    ]
}
