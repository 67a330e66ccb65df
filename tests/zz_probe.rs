use dcsim::fuzzing::TARGETS;
#[test]
fn probe() {
    let only = std::env::var("T").unwrap_or_default();
    for (t, check) in TARGETS {
        if !only.is_empty() && only != t {
            continue;
        }
        let dir = format!("fuzz/work/corpus/{t}");
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        let files: Vec<Vec<u8>> = rd
            .filter_map(|e| std::fs::read(e.ok()?.path()).ok())
            .collect();
        if files.is_empty() {
            continue;
        }
        let start = std::time::Instant::now();
        let mut n = 0;
        for _ in 0..3 {
            for f in &files {
                let _ = check(f);
                n += 1;
            }
        }
        let per = start.elapsed().as_secs_f64() / n as f64;
        println!(
            "{t}: {} files, {n} execs, {:.1} us/exec, {:.0} exec/s",
            files.len(),
            per * 1e6,
            1.0 / per
        );
    }
}
