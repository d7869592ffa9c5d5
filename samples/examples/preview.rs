//! Renders a few documents of one degradation class to /tmp for a look:
//! `cargo run --release -p intake-samples --example preview -- CLASS [N]`.

use intake_models::MrzFormat;
use intake_samples::degrade::{self, Degradation, Variation};
use intake_samples::documents::{Document, Validity};
use intake_samples::render::Fonts;
use rand::{rngs::StdRng, SeedableRng};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(class) = args.get(1) else {
        let names: Vec<&str> = Degradation::ALL.iter().map(|d| d.as_str()).collect();
        eprintln!("usage: preview CLASS [N]; classes: {}", names.join(" "));
        std::process::exit(2);
    };
    let count: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(4);
    let Some(how) = Degradation::ALL.into_iter().find(|d| d.as_str() == class) else {
        eprintln!("unknown class {class}");
        std::process::exit(2);
    };
    let fonts = Fonts::load().expect("fonts");
    let layouts = [
        MrzFormat::TD3,
        MrzFormat::TD1,
        MrzFormat::TD2,
        MrzFormat::MrvA,
    ];
    for seed in 0..count {
        let mut rng = StdRng::seed_from_u64(seed);
        let layout = layouts[seed as usize % layouts.len()];
        let doc = Document::generate(&mut rng, Some(layout), Validity::Valid);
        let mut variation = Variation::default();
        let style = how.render_style(&mut rng, &mut variation);
        let dpi = how.dpi().unwrap_or(300.0);
        let rendered = doc.render_with(&fonts, dpi, &style);
        let image = degrade::apply_at(
            rendered.image,
            rendered.mrz_box,
            how,
            dpi,
            &mut rng,
            &mut variation,
        );
        let path = format!("/tmp/preview_{class}_{seed}.png");
        image.save(&path).expect("written");
        println!(
            "{path} {}",
            serde_json::to_string(&variation).unwrap_or_default()
        );
    }
}
