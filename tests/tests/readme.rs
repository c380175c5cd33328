//! The scenario shown in README.md is a valid scenario, so the front page never teaches a file
//! that fails to load.

#[test]
fn the_readme_scenario_parses() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let start = readme.find("```ron\n").expect("README shows a scenario") + "```ron\n".len();
    let end = start + readme[start..].find("```").expect("the block ends");
    let scenario = sim::scenario::parse_str(&readme[start..end], "README.md").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(scenario.name, "a consumer dies");
}
