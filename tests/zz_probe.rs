use dcsim::fuzzing::{self, sim_faults::*};
#[test]
fn probe() {
    let path = std::env::var("F").unwrap();
    let data = std::fs::read(&path).unwrap();
    let input: SimFaultsInput = fuzzing::decode(&data).unwrap();
    println!("{input:?}");
    let s = input.scenario().unwrap();
    println!("{}", s.to_toml());
    let t = std::time::Instant::now();
    let r = run_sim_faults(&input);
    println!(
        "{:?} in {:?}",
        r.map_err(|e| e.lines().next().unwrap_or("").to_string()),
        t.elapsed()
    );
}
