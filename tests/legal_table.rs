//! The legality table in docs/invariants.md is the one the `legal-transition` invariant
//! reads (src/model/legal.rs).

#[test]
fn the_docs_print_the_legality_table() {
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/invariants.md"))
        .expect("docs/invariants.md");
    let table = dcsim::model::legal::table();
    assert!(
        page.contains(&table),
        "docs/invariants.md's legality table is not src/model/legal.rs's:\n{table}"
    );
}
