"""PDFs written byte by byte for the tests: text pages, bombs, pages with too many operators."""

from __future__ import annotations

import zlib
from collections.abc import Sequence

_FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"


def assemble(objects: Sequence[bytes]) -> bytes:
    """A PDF from object bodies numbered from 1 (1 is the catalog), with a correct xref."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\n".encode()
    out += f"startxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def _stream(content: bytes, *, flate: bool) -> bytes:
    filters = b" /Filter /FlateDecode" if flate else b""
    header = b"<< /Length " + str(len(content)).encode() + filters + b" >>"
    return header + b"\nstream\n" + content + b"\nendstream"


def one_page(content: bytes, *, flate: bool = True) -> bytes:
    """A one-page PDF whose content stream is given (already compressed if flate)."""
    return assemble(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
            b" /Resources << /Font << /F1 5 0 R >> >> >>",
            _stream(content, flate=flate),
            _FONT,
        ]
    )


def text_pdf(lines: Sequence[tuple[float, float, str]]) -> bytes:
    """A one-page PDF writing each (x, y from the top, text) in 11 pt Helvetica."""
    ops = []
    for x, y, text in lines:
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        ops.append(f"BT /F1 11 Tf {x} {842 - y} Td ({escaped}) Tj ET")
    return one_page(zlib.compress("\n".join(ops).encode("cp1252")))


def zero_pages() -> bytes:
    """A PDF whose page tree has no pages."""
    return assemble([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"])


def deflate_bomb(inflated_mb: int) -> bytes:
    """A page whose content stream inflates to inflated_mb MiB of spaces from ~1 KiB per MiB.

    The same fully flushed deflate block is repeated, so building it costs nothing; the
    trailer carries the true Adler-32, so the stream is valid to its end.
    """
    chunk = b" " * (1 << 20)
    compressor = zlib.compressobj(9)
    first = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeated = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    checksum = 1
    for _ in range(inflated_mb):
        checksum = zlib.adler32(chunk, checksum)
    # An empty final block with fixed Huffman codes, then the checksum, ends the stream.
    body = first + repeated * (inflated_mb - 1) + b"\x03\x00" + checksum.to_bytes(4, "big")
    return one_page(body)


def many_operators(count: int) -> bytes:
    """A page drawing count tiny lines: cheap to store, slow to interpret."""
    return one_page(zlib.compress(b"0 0 m 1 1 l S\n" * count))
