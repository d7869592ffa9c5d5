//! A PDF image's filter chain, colour space and bit depth, chosen by the
//! first bytes; the rest is the stream's data. Drives `pdf::filters`
//! directly (lopdf's bounded ASCII85, ASCIIHex, LZW, RunLength and Flate
//! with predictors, then DCT; every colour space, depth and Decode array we
//! convert) and, through `extract_pdf` on a one-page PDF holding the image,
//! the page walk, the orientation and the renderer's paths (CCITTFaxDecode,
//! JBIG2Decode and JPXDecode are drawn by `pdftoppm`).
#![no_main]

use intake_models::config::Limits;
use intake_stages::pdf::extract_pdf;
use intake_stages::pdf::filters::{samples_to_grey, unfilter, ColourSpace, ImageSpec};
use libfuzzer_sys::fuzz_target;

const FILTERS: [&str; 9] = [
    "ASCIIHexDecode",
    "ASCII85Decode",
    "LZWDecode",
    "FlateDecode",
    "RunLengthDecode",
    "DCTDecode",
    "CCITTFaxDecode",
    "JBIG2Decode",
    "JPXDecode",
];

fuzz_target!(|data: &[u8]| {
    let [chain, shape, w, h, space, predictor, rotate, rest @ ..] = data else {
        return;
    };
    let limits = Limits {
        max_pixels: 4_000_000,
        pdf_timeout_ms: 5_000,
        ..Limits::default()
    };
    // Up to three filters, in decoding order.
    let filters: Vec<&str> = (0..(chain & 3))
        .map(|i| FILTERS[usize::from((chain >> (2 + 2 * i)) ^ (shape >> 5)) % FILTERS.len()])
        .collect();
    let bits = [1u8, 2, 4, 8, 16][usize::from(shape & 7) % 5];
    let (width, height) = (u32::from(*w) * 4 + 1, u32::from(*h) * 4 + 1);
    let (space_name, colour) = match space % 5 {
        0 => ("/DeviceGray", ColourSpace::Gray),
        1 => ("/DeviceRGB", ColourSpace::Rgb),
        2 => ("/DeviceCMYK", ColourSpace::Cmyk),
        3 => (
            "[/Indexed /DeviceRGB 3 <000000ff0000 00ff00ffffff>]",
            ColourSpace::Indexed {
                grey: vec![0, 76, 149, 255],
            },
        ),
        _ => ("[/Separation /Spot /DeviceGray {}]", ColourSpace::Other),
    };
    let params = format!(
        "<< /Predictor {} /Colors {} /BitsPerComponent {bits} /Columns {width} /K -1 /Rows {height} >>",
        [1, 2, 10, 11, 12, 15][usize::from(*predictor) % 6],
        1 + predictor % 4,
    );

    // The chain and the conversion on their own.
    let chain: Vec<Vec<u8>> = filters.iter().map(|f| f.as_bytes().to_vec()).collect();
    let native = chain.iter().all(|f| {
        !matches!(
            f.as_slice(),
            b"DCTDecode" | b"CCITTFaxDecode" | b"JBIG2Decode" | b"JPXDecode"
        )
    });
    if native {
        if let Ok(out) = unfilter(rest, &chain, &[], 1 << 20) {
            assert!(out.len() <= (1 << 20) + 1);
            let spec = ImageSpec {
                width,
                height,
                bits,
                space: colour,
                mask: false,
                filters: chain.clone(),
                params: Vec::new(),
                decode: (predictor & 0x80 != 0).then(|| vec![1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0]),
            };
            if let Ok(grey) = samples_to_grey(&out, &spec) {
                assert_eq!(grey.dimensions(), (width, height));
            }
        }
    }

    // The same image on a page, drawn turned by /Rotate, through the page walk.
    let names: Vec<String> = filters.iter().map(|f| format!("/{f}")).collect();
    let parms: Vec<&str> = filters.iter().map(|_| params.as_str()).collect();
    let dict = format!(
        "<< /Type /XObject /Subtype /Image /Width {width} /Height {height} /ColorSpace {space_name} \
         /BitsPerComponent {bits} /Filter [{}] /DecodeParms [{}] /Length {} >>",
        names.join(" "),
        parms.join(" "),
        rest.len()
    );
    let mut image = dict.into_bytes();
    image.extend(b"\nstream\n");
    image.extend(rest);
    image.extend(b"\nendstream");
    let content = b"q 200 0 0 150 20 20 cm /Im0 Do Q";
    let mut contents = format!("<< /Length {} >>\nstream\n", content.len()).into_bytes();
    contents.extend(content);
    contents.extend(b"\nendstream");
    let objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 240 190] /Rotate {} /Contents 4 0 R \
             /Resources << /XObject << /Im0 5 0 R >> >> >>",
            90 * u32::from(rotate % 4)
        )
        .into_bytes(),
        contents,
        image,
    ];
    let mut pdf = b"%PDF-1.5\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend(format!("{} 0 obj\n", i + 1).as_bytes());
        pdf.extend(body);
        pdf.extend(b"\nendobj\n");
    }
    let xref = pdf.len();
    pdf.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for o in offsets {
        pdf.extend(format!("{o:010} 00000 n \n").as_bytes());
    }
    pdf.extend(
        format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1)
            .as_bytes(),
    );
    if let Ok(pages) = extract_pdf(&pdf, &limits) {
        assert!(pages.consistent());
        assert!(pages.data.len() as u64 <= limits.max_pixels * 2);
    }
});
