use intake_stages::{locate, ocr};
fn main() {
    let cfg = intake_models::config::Ocr::default();
    let mut reader = ocr::MrzOcr::new(&cfg).unwrap();
    for path in std::env::args().skip(1) {
        let img = image::open(&path).unwrap().to_luma8();
        let t = std::time::Instant::now();
        let loc = locate::locate(&img);
        let t1 = t.elapsed();
        match loc {
            None => println!("{path}: no mrz ({t1:?})"),
            Some(loc) => {
                let turned = locate::turn(&img, loc.rotation);
                let text = reader.read(&turned, &loc);
                println!(
                    "{path}: rot {} shape {:?} dpi {:.1} locate {t1:?} total {:?} reread {}",
                    loc.rotation,
                    loc.shape,
                    loc.effective_dpi(),
                    t.elapsed(),
                    text.reread_cells
                );
                for l in &text.lines {
                    println!("  {l}");
                }
                if std::env::var("STRIP").is_ok() {
                    ocr::strip(&turned, &loc.lines[0])
                        .save("/tmp/exp/strip0.png")
                        .unwrap();
                }
            }
        }
    }
}
