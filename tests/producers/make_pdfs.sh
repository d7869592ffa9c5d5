#!/usr/bin/env bash
# PDFs of the committed samples made by the tools applicants and scanners
# use (Debian packages that `make deps` installs), into OUT_DIR:
#   producer-name.pdf ... and truth.tsv (file, kind, expected page, true dpi).
# Usage: tests/producers/make_pdfs.sh OUT_DIR
# Used by tests/producers.rs; run by hand to look at the files.
set -euo pipefail
OUT=${1:?usage: make_pdfs.sh OUT_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
S="$HERE/../../samples/committed"
IM=/usr/bin/convert          # ImageMagick (not a stand-in earlier on PATH)
PY=/usr/bin/python3          # Debian's, with python3-reportlab
mkdir -p "$OUT"
cd "$OUT"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
P=$S/passport.jpg            # 1546 x 1109 at 300 dpi, TD3
M=$S/migration_card.jpg      # 1818 x 1310 at 300 dpi, no MRZ

printf 'file\tkind\tpage\tdpi\n' > truth.tsv
truth() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> truth.tsv; }

# img2pdf: the JPEG as is (DCTDecode).
img2pdf "$P" -o img2pdf_dct.pdf; truth img2pdf_dct.pdf passport 1 300
# img2pdf: RGB PNG (FlateDecode with PNG predictors, 3 colours).
$IM "$P" -type TrueColor -define png:color-type=2 "$W/rgb.png"
img2pdf "$W/rgb.png" -o img2pdf_flate_rgb.pdf; truth img2pdf_flate_rgb.pdf passport 1 300
# img2pdf: 16-colour palette PNG ([/Indexed /DeviceRGB 15 <table>], Flate).
$IM "$P" -colors 16 -type Palette PNG8:"$W/indexed.png"
img2pdf "$W/indexed.png" -o img2pdf_indexed.pdf; truth img2pdf_indexed.pdf passport 1 300
# img2pdf: bilevel PNG (1 bit per pixel).
$IM "$P" -threshold 55% -type Bilevel "$W/bilevel.png"
img2pdf "$W/bilevel.png" -o img2pdf_1bit.pdf; truth img2pdf_1bit.pdf passport 1 300
# img2pdf: CCITT G4 TIFF (what black-and-white office scanners send).
$IM "$P" -threshold 55% -type Bilevel -compress Group4 -density 300 -units PixelsPerInch "$W/g4.tif"
img2pdf "$W/g4.tif" -o img2pdf_ccitt_g4.pdf; truth img2pdf_ccitt_g4.pdf passport 1 300
# img2pdf: JPEG 2000 (JPXDecode).
$IM "$P" -quality 40 -density 300 -units PixelsPerInch "$W/passport.jp2"
img2pdf --imgsize 300dpi "$W/passport.jp2" -o img2pdf_jpx.pdf; truth img2pdf_jpx.pdf passport 1 300
# img2pdf: CMYK JPEG (Adobe, inverted; /Decode on the image).
$IM "$P" -colorspace CMYK -quality 92 "$W/cmyk.jpg"
img2pdf "$W/cmyk.jpg" -o img2pdf_cmyk.pdf; truth img2pdf_cmyk.pdf passport 1 300
# img2pdf: the page turned by /Rotate 90 over an image stored turned back.
$IM "$P" -rotate 270 -quality 92 -density 300 -units PixelsPerInch "$W/turned.jpg"
img2pdf --rotation=90 "$W/turned.jpg" -o img2pdf_rotate90.pdf; truth img2pdf_rotate90.pdf passport 1 300

# ReportLab: drawImage on an A4 page (ASCII85Decode + DCTDecode), 1546 px over 1546/300 in.
$PY - "$P" reportlab_a4.pdf <<'EOF'
import sys
from reportlab.pdfgen import canvas
from reportlab.lib.pagesizes import A4
src, out = sys.argv[1], sys.argv[2]
c = canvas.Canvas(out, pagesize=A4)
w, h = 1546 * 72 / 300, 1109 * 72 / 300
c.drawString(72, A4[1] - 60, "Passport - copy of the data page")
c.drawImage(src, 60, A4[1] - 100 - h, width=w, height=h)
c.showPage()
c.save()
EOF
truth reportlab_a4.pdf passport 1 300
# ReportLab with page compression: the image inside a Form XObject, placed scaled.
$PY - "$P" reportlab_form.pdf <<'EOF'
import sys
from reportlab.pdfgen import canvas
src, out = sys.argv[1], sys.argv[2]
w, h = 1546 * 72 / 300, 1109 * 72 / 300
c = canvas.Canvas(out, pagesize=(w + 40, h + 40), pageCompression=1)
c.beginForm("scan")
c.drawImage(src, 0, 0, width=w, height=h)
c.endForm()
c.translate(20, 20)
c.doForm("scan")
c.showPage()
c.save()
EOF
truth reportlab_form.pdf passport 1 300

# Ghostscript pdfwrite from the JPEG (its viewjpeg.ps: one point per pixel,
# so the placement says 72 dpi; the MRZ pitch measures the truth).
gs -q -dSAFER -dBATCH -dNOPAUSE -sDEVICE=pdfwrite -o gs_viewjpeg.pdf \
   --permit-file-read="$P" viewjpeg.ps -c "($P) viewJPEG" >/dev/null
truth gs_viewjpeg.pdf passport 1 300
# ps2pdf: a PostScript page drawing the grey samples (ASCIIHex) at 300 dpi.
$IM "$P" -depth 8 gray:"$W/passport.gray"
{
  printf '%%!PS-Adobe-3.0\n%%%%BoundingBox: 0 0 372 267\n<< /PageSize [371.04 266.16] >> setpagedevice\n'
  printf '371.04 266.16 scale\n/DeviceGray setcolorspace\n'
  printf '<< /ImageType 1 /Width 1546 /Height 1109 /BitsPerComponent 8 /Decode [0 1]\n'
  printf '   /ImageMatrix [1546 0 0 -1109 0 1109] /DataSource currentfile /ASCIIHexDecode filter >> image\n'
  od -An -v -tx1 "$W/passport.gray" | tr -d ' \n' | fold -w 120
  printf '>\nshowpage\n'
} > "$W/passport.ps"
ps2pdf "$W/passport.ps" ps2pdf.pdf; truth ps2pdf.pdf passport 1 300

# Tesseract's own PDF output (the image with an invisible text layer).
tesseract "$P" "$W/tess" --dpi 300 -l eng pdf >/dev/null 2>&1
cp "$W/tess.pdf" tesseract.pdf; truth tesseract.pdf passport 1 300
# OCRmyPDF over img2pdf's PDF (a scan with a text layer over it).
if command -v ocrmypdf >/dev/null; then
  ocrmypdf -q --output-type pdf --optimize 0 -l eng img2pdf_dct.pdf ocrmypdf.pdf >/dev/null 2>&1
  truth ocrmypdf.pdf passport 1 300
fi

# ImageMagick (its PDF writer is off under Debian's policy): committed
# fixtures, with the command that made them in fixtures/README.md.
cp "$HERE/fixtures/imagemagick_g4.pdf" "$HERE/fixtures/imagemagick_jpeg.pdf" .
truth imagemagick_g4.pdf passport 1 300
truth imagemagick_jpeg.pdf passport 1 300

# Two pages, the passport second (the migration card first).
img2pdf "$M" "$P" -o two_pages_passport_second.pdf; truth two_pages_passport_second.pdf passport 2 300
# Ten pages: the passport, then nine blank pages.
$IM -size 2480x3508 xc:white -type Grayscale "$W/blank.png"
blanks=(); for i in 1 2 3 4 5 6 7 8 9; do blanks+=("$W/blank.png"); done
img2pdf "$P" "${blanks[@]}" -o ten_pages_one_passport.pdf; truth ten_pages_one_passport.pdf passport 1 300

# The migration card (no MRZ: the placement decides the resolution), through
# the renderer's paths: CCITT G4 and JPEG 2000, and DCT beside them.
img2pdf "$M" -o mc_img2pdf_dct.pdf; truth mc_img2pdf_dct.pdf migration_card 1 300
$IM "$M" -threshold 60% -type Bilevel -compress Group4 -density 300 -units PixelsPerInch "$W/mc_g4.tif"
img2pdf "$W/mc_g4.tif" -o mc_img2pdf_ccitt_g4.pdf; truth mc_img2pdf_ccitt_g4.pdf migration_card 1 300
$IM "$M" -quality 40 "$W/mc.jp2"
img2pdf --imgsize 300dpi "$W/mc.jp2" -o mc_img2pdf_jpx.pdf; truth mc_img2pdf_jpx.pdf migration_card 1 300
# The same card scanned at 150 dpi (half the pixels over the same placed size).
$IM "$M" -resize 50% -threshold 60% -type Bilevel -compress Group4 -density 150 -units PixelsPerInch "$W/mc150_g4.tif"
img2pdf "$W/mc150_g4.tif" -o mc150_img2pdf_ccitt_g4.pdf; truth mc150_img2pdf_ccitt_g4.pdf migration_card 1 150
