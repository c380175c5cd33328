fn main() {
    let path = std::env::args().nth(1).unwrap();
    let scenario = sim::scenario::load_file(std::path::Path::new(&path)).unwrap_or_else(|e| panic!("{e}"));
    let seed = scenario.seed;
    let report = sim::run(scenario, seed);
    println!("{}", sim::report::render_text(&report, true));
}
