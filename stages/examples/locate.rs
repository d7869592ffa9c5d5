//! Where the locate stage finds the MRZ grid of each image given:
//! `cargo run --release -p intake-stages --example locate -- FILE...`
//! (PNG/JPEG; one line per grid line: origin, direction, pitch, height, cells).

fn main() {
    for path in std::env::args().skip(1) {
        let image = match image::open(&path) {
            Ok(image) => image.into_luma8(),
            Err(e) => {
                eprintln!("{path}: {e}");
                continue;
            }
        };
        match intake_stages::locate::locate(&image) {
            None => println!("{path}: no MRZ"),
            Some(found) => {
                println!(
                    "{path}: rotation {} shape {:?}",
                    found.rotation, found.shape
                );
                for l in &found.lines {
                    println!(
                        "  origin ({:.1}, {:.1}) direction ({:.4}, {:.4}) pitch {:.2} bend {:.4} height {:.1} cells {}",
                        l.origin.0, l.origin.1, l.direction.0, l.direction.1, l.pitch, l.bend, l.char_height, l.cells
                    );
                }
            }
        }
    }
}
