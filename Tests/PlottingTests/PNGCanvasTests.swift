import CZlib
import XCTest
@testable import Plotting

/// PNG structure checked field by field against the PNG specification (independent constants:
/// signature, IHDR layout, the IEND CRC AE 42 60 82 that every PNG ends with), and pixel data
/// recovered by zlib's inflate.
final class PNGCanvasTests: XCTestCase {
    func testPNGLayoutAndRoundTrip() throws {
        var img = PNGImage(width: 3, height: 2, channels: 3)
        img.pixels = [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 40, 50, 60, 70, 80, 90]
        let bytes = img.encoded()
        XCTAssertEqual(Array(bytes[0..<8]), [137, 80, 78, 71, 13, 10, 26, 10])
        XCTAssertEqual(Array(bytes[8..<16]), [0, 0, 0, 13] + Array("IHDR".utf8))
        XCTAssertEqual(Array(bytes[16..<29]), [0, 0, 0, 3, 0, 0, 0, 2, 8, 2, 0, 0, 0])
        XCTAssertEqual(Array(bytes.suffix(12)), [0, 0, 0, 0] + Array("IEND".utf8) + [0xAE, 0x42, 0x60, 0x82])
        // IDAT: length at 33, type at 37
        let idatLength = bytes[33..<37].reduce(0) { $0 << 8 | Int($1) }
        XCTAssertEqual(Array(bytes[37..<41]), Array("IDAT".utf8))
        let compressed = Array(bytes[41..<(41 + idatLength)])
        var raw = [UInt8](repeating: 0, count: 2 * (1 + 9))
        var rawLength = uLong(raw.count)
        let status = uncompress(&raw, &rawLength, compressed, uLong(compressed.count))
        XCTAssertEqual(status, Z_OK)
        XCTAssertEqual(raw, [0] + img.pixels[0..<9] + [0] + img.pixels[9..<18])
    }

    /// CRC-32 of "IEND" is the well-known AE426082; of "123456789" the check value CBF43926.
    func testChunkCRC() {
        var out: [UInt8] = []
        PNGImage.appendChunk("IEND", [], to: &out)
        XCTAssertEqual(Array(out.suffix(4)), [0xAE, 0x42, 0x60, 0x82])
        let check = Array("123456789".utf8).withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }
        XCTAssertEqual(check, 0xCBF4_3926)
    }

    func testCanvasLineRectAndClipping() {
        var c = Canvas(width: 10, height: 8, background: .white)
        c.line(x0: 0, y0: 0, x1: 9, y1: 7, colour: .black)
        XCTAssertEqual(c.pixel(x: 0, y: 0), .black)
        XCTAssertEqual(c.pixel(x: 9, y: 7), .black)
        XCTAssertEqual(c.pixel(x: 9, y: 0), .white)
        c.fillRect(x: -5, y: -5, width: 7, height: 7, colour: .red)  // clipped, no crash
        XCTAssertEqual(c.pixel(x: 1, y: 1), .red)
        XCTAssertEqual(c.pixel(x: 2, y: 2), .black)  // on the diagonal, outside the rect
        c.strokeRect(x: 4, y: 2, width: 4, height: 3, colour: .blue)
        XCTAssertEqual(c.pixel(x: 7, y: 4), .blue)
        XCTAssertEqual(c.pixel(x: 6, y: 3), .white)
    }

    /// "1" in the 5×7 font: column 2 set on every row, the base row 01110.
    func testBitmapText() {
        var c = Canvas(width: 20, height: 9, background: .black)
        let w = c.text("1a", x: 1, y: 1, colour: .white)
        XCTAssertEqual(w, 12)
        for row in 0..<7 { XCTAssertEqual(c.pixel(x: 3, y: 1 + row), .white) }
        XCTAssertEqual((1...5).map { c.pixel(x: $0, y: 7) == .white }, [false, true, true, true, false])
        // 'A' starts at x = 1 + 6 = 7; its top row is 01110: column 0 off, column 1 on
        XCTAssertEqual(c.pixel(x: 7, y: 1), .black)
        XCTAssertEqual(c.pixel(x: 8, y: 1), .white)
    }
}
